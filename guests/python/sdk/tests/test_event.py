"""Unit tests of the event decoding (plain CPython: `python3 -m unittest discover -s
guests/python/sdk/tests`); they mirror the Rust SDK's tests of guests/sdk/src/event.rs."""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tokenwatch"))
import event  # noqa: E402  (the module alone: the package needs the component bindings)

ISSUER = "https://c2id.example.com"


def encode(fields):
    out = b""
    for f in fields:
        if f is None:
            out += struct.pack("<I", 0xFFFFFFFF)
        else:
            b = f.encode() if isinstance(f, str) else f
            out += struct.pack("<I", len(b)) + b
    return out


def index(names):
    d = {}
    for i, n in enumerate(names):
        d.setdefault(n, i)
    return d


class Warnings:
    def __enter__(self):
        self.seen = []
        event._warned = False
        event._warn = self.seen.append
        return self

    def __exit__(self, *a):
        event._warn = None


class DecodeTest(unittest.TestCase):
    def test_declared_claims_present_and_absent(self):
        with Warnings() as w:
            declared = index(["sub", "iat", "acr", "amr", "big", "esc", "aud"])
            buf = encode([ISSUER, "client-123", None, None, '"alice"', "1700000000", None,
                          '["pwd","otp"]', "123456789012345678901234567890", r'"a\"b\u00e9"', '"rp"'])
            ctx, local, c = event.decode(buf, declared)
            self.assertEqual(c.get("sub"), '"alice"')
            self.assertEqual(c.subject(), "alice")
            self.assertEqual(c.issued_at(), 1700000000)
            self.assertEqual(c.get("iat"), "1700000000")
            self.assertIsNone(c.get("acr"))
            self.assertIsNone(c.acr())
            self.assertEqual(c.get("amr"), '["pwd","otp"]')
            self.assertEqual(c.amr(), ["pwd", "otp"])
            self.assertEqual(c.get("big"), "123456789012345678901234567890")
            self.assertIsNone(c.get_int("big"))
            self.assertEqual(c.get_str("esc"), 'a"b\u00e9')
            self.assertEqual(c.audience(), ["rp"])
            self.assertIsNone(c.get_str("amr"))
            self.assertEqual(c.names(), ["sub", "iat", "amr", "big", "esc", "aud"])
            self.assertEqual(c.to_json(), '{"sub":"alice","iat":1700000000,"amr":["pwd","otp"],'
                             '"big":123456789012345678901234567890,"esc":"a\\"b\\u00e9","aud":"rp"}')
            self.assertEqual((ctx.issuer, ctx.client_id, ctx.client_metadata, local), (ISSUER, "client-123", None, None))
            self.assertEqual(w.seen, [])

    def test_an_undeclared_name_reads_as_absent_and_warns_once(self):
        with Warnings() as w:
            _, _, c = event.decode(encode([ISSUER, "", None, None, '"alice"']), index(["sub"]))
            self.assertIsNone(c.get("acr"))
            self.assertIsNone(c.issued_at())
            self.assertEqual(c.get("sub"), '"alice"')
            self.assertEqual(len(w.seen), 1)
            self.assertTrue(w.seen[0].startswith('claim "acr" was not declared'), w.seen)

    def test_whole_object_mode(self):
        with Warnings() as w:
            obj = ('{"sub":"alice","n\\u0061me":"escaped","nested":{"sub":"inner","a":[1,{"b":"]}"}]},'
                   '"big":123456789012345678901234567890,"e":1e2,"aud":["rp1","rp2"],"iat":1700000000,'
                   '"email_verified":true,"s\\"q":1}')
            ctx, local, c = event.decode(encode([ISSUER, "client-123", "local-7", '{"client_name":"x"}', obj]), None)
            self.assertEqual(c.get("sub"), '"alice"')
            self.assertEqual(c.get("name"), '"escaped"')
            self.assertEqual(c.get("nested"), '{"sub":"inner","a":[1,{"b":"]}"}]}')
            self.assertIsNone(c.get("a"))
            self.assertEqual(c.get("big"), "123456789012345678901234567890")
            self.assertEqual(c.get("e"), "1e2")
            self.assertIsNone(c.get_int("e"))
            self.assertEqual(c.get('s"q'), "1")
            self.assertEqual(c.audience(), ["rp1", "rp2"])
            self.assertEqual(c.issued_at(), 1700000000)
            self.assertIs(c.get_bool("email_verified"), True)
            self.assertIsNone(c.get("acr"))
            self.assertEqual(c.to_json(), obj)
            self.assertEqual(c.names(), ["sub", "name", "nested", "big", "e", "aud", "iat", "email_verified", 's"q'])
            self.assertEqual(w.seen, [])
            self.assertEqual(event.IdTokenEvent(c, local).local_subject, "local-7")
            self.assertEqual(ctx.client_metadata, '{"client_name":"x"}')

    def test_spaces_in_the_object(self):
        _, _, c = event.decode(encode([ISSUER, "", None, None, ' { "a" : [1, 2] , "b":"x" } ']), None)
        self.assertEqual(c.get("a"), "[1, 2]")
        self.assertEqual(c.get_str("b"), "x")

    def test_a_malformed_buffer_reads_as_absent(self):
        with Warnings():
            declared = index(["sub", "iat"])
            full = encode([ISSUER, "client-123", None, None, '"alice"', "1700000000"])
            for cut in range(len(full)):
                ctx, _, c = event.decode(full[:cut], declared)
                _ = (ctx.issuer, ctx.client_id, ctx.client_metadata, c.get("sub"), c.names(), c.to_json())
                self.assertIsNone(c.issued_at(), cut)
                if cut < 4 + len(ISSUER):
                    self.assertEqual(ctx.issuer, "")
            self.assertEqual(event.decode(full, declared)[2].issued_at(), 1700000000)
            bad = encode([b"\xff\xfe", b"client", b"\xc3", b'{"a":1}', b'{"sub":"\xff","iat":1}'])
            ctx, local, c = event.decode(bad, None)
            self.assertEqual((ctx.issuer, ctx.client_id, local is not None), ("", "client", True))
            self.assertEqual(ctx.client_metadata, '{"a":1}')
            self.assertIsNone(c.get("sub"))
            self.assertEqual(c.to_json(), "{}")
            self.assertEqual(event.decode(b"", None)[2].to_json(), "{}")

    def test_integers_as_the_rust_sdk_reads_them(self):
        names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        values = ["1764331200", "-0", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
                  "01", "1.0", "1e3", '"1"']
        _, _, c = event.decode(encode([ISSUER, "", None, None] + values), index(names))
        self.assertEqual([c.get_int(n) for n in names],
                         [1764331200, 0, (1 << 63) - 1, -(1 << 63), None, None, None, None, None])
        _, _, c = event.decode(encode([ISSUER, "", None, None, r'{"x":"\uff11","y":"\u00e9\"","z":""}']), None)
        self.assertEqual((c.get_int("x"), c.get_str("x"), c.get_str("y"), c.get_str("z")), (None, "\uff11", '\u00e9"', ""))

    def test_quote_matches_the_rust_sdk(self):
        self.assertEqual(event.quote('say "hi" C:\\tmp\n\t\x01\x1f\u00e9'),
                         '"say \\"hi\\" C:\\\\tmp\\u000a\\u0009\\u0001\\u001f\u00e9"')


if __name__ == "__main__":
    unittest.main()
