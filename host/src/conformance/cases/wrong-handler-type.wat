;; Exports `id-token-issued` taking a string: the same core signature, another WIT type.
;;@ event_type
string
