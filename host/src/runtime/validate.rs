//! Load-time checks of a compiled component, before any of its code runs: the size of the
//! file, what it imports, the signature of every function it exports, and what it needs of
//! the per-instance limits. A component that would only fail later (at every instantiation
//! or every event) is refused here, with a message naming what and why.

use crate::imports::token::{ClaimsView, ContextView};
use crate::imports::provides;
use crate::runtime::limits::{bytes, Limits, MAX_CORE_INSTANCES, MAX_MEMORIES, MAX_TABLES};
use crate::runtime::state::State;
use std::fmt::Write as _;
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, Linker, ResourceType, Type};
use wasmtime::Engine;

/// The contract versions the host serves, as messages name them.
const SERVED: &str = "tokenwatch:listener@0.2.0 (and still serves 0.1.0)";

/// A version of the contract a component was built against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Contract {
    V0_2,
    V0_1,
}

/// An exported interface of the contract and its functions, as WIT signatures.
struct Interface {
    name: &'static str,
    funcs: &'static [(&'static str, &'static str)],
}

/// The exported interfaces of one contract version: lifecycle, the two handlers, and the
/// batched handler (0.2 only).
struct Exports {
    contract: Contract,
    lifecycle: Interface,
    id_token: Interface,
    access_token: Interface,
    batch: Option<Interface>,
}

const V0_2: Exports = Exports {
    contract: Contract::V0_2,
    lifecycle: Interface {
        name: "tokenwatch:listener/lifecycle@0.2.0",
        funcs: &[
            ("init", "func(properties: list<tuple<string, string>>) -> result<record { claims: option<list<string>>, client-metadata: bool, properties: option<list<string>> }, string>"),
            ("is-enabled", "func() -> bool"),
            ("shutdown", "func()"),
        ],
    },
    id_token: Interface {
        name: "tokenwatch:listener/id-token-listener@0.2.0",
        funcs: &[("id-token-issued", "func(event: list<u8>)")],
    },
    access_token: Interface {
        name: "tokenwatch:listener/access-token-listener@0.2.0",
        funcs: &[("access-token-issued", "func(event: list<u8>)")],
    },
    batch: Some(Interface {
        name: "tokenwatch:listener/batch-listener@0.2.0",
        funcs: &[(
            "tokens-issued",
            "func(events: list<record { kind: enum { id-token, access-token }, event: list<u8> }>)",
        )],
    }),
};

const V0_1: Exports = Exports {
    contract: Contract::V0_1,
    lifecycle: Interface {
        name: "tokenwatch:listener/lifecycle@0.1.0",
        funcs: &[
            ("init", "func(properties: list<tuple<string, string>>) -> result<_, string>"),
            ("is-enabled", "func() -> bool"),
            ("shutdown", "func()"),
        ],
    },
    id_token: Interface {
        name: "tokenwatch:listener/id-token-listener@0.1.0",
        funcs: &[(
            "id-token-issued",
            "func(claims: borrow<claims>, local-subject: option<string>, context: borrow<event-context>)",
        )],
    },
    access_token: Interface {
        name: "tokenwatch:listener/access-token-listener@0.1.0",
        funcs: &[("access-token-issued", "func(claims: borrow<claims>, context: borrow<event-context>)")],
    },
    batch: None,
};

/// Refuse a file over the listener's `module_mb` before reading it whole or compiling it:
/// compile time and memory grow with the module.
pub(crate) fn check_size(len: u64, limits: &Limits) -> Result<(), String> {
    if len > limits.module_bytes as u64 {
        return Err(format!(
            "the file is {}, over the module size limit of {} (`module_mb`; compiling a module takes time and memory in proportion to its size)",
            bytes(usize::try_from(len).unwrap_or(usize::MAX)),
            bytes(limits.module_bytes)
        ));
    }
    Ok(())
}

/// What the host does with one import of a component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportClass {
    /// A `tokenwatch:listener` interface the host links for every listener.
    Provided,
    /// A `wasi:*` interface: linked only for a listener granted WASI (`wasi = true`).
    Wasi,
    /// Never linked; why, and what to do.
    Refused(String),
}

/// How the host treats the import `name`: the one place the rules are written
/// (`check_imports` at load, `tokenwatch check` in its report).
pub fn classify_import(name: &str) -> ImportClass {
    if provides(name) {
        ImportClass::Provided
    } else if name.starts_with("wasi:") {
        ImportClass::Wasi
    } else if name.starts_with("tokenwatch:listener/") {
        ImportClass::Refused(format!("this host speaks {SERVED}: rebuild against its wit/listener.wit"))
    } else {
        ImportClass::Refused("not provided by this host".to_owned())
    }
}

/// What a listener that imports WASI without the grant is told.
pub const WASI_NOT_GRANTED: &str = "WASI is not granted: build a Rust listener for wasm32-unknown-unknown, which imports no WASI, or grant it: `wasi = true` for this listener in the config, `--wasi NAME` on the command line";

/// Reject every import the host does not provide, or provides only with a grant.
pub(crate) fn check_imports(engine: &Engine, component: &Component, wasi: bool) -> Result<(), String> {
    let mut refused = Vec::new();
    let mut ungranted_wasi = Vec::new();
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        match classify_import(name) {
            ImportClass::Provided => {}
            ImportClass::Wasi if wasi => {}
            ImportClass::Wasi => ungranted_wasi.push(name),
            ImportClass::Refused(why) => refused.push(format!("{name} ({why})")),
        }
    }
    if !ungranted_wasi.is_empty() {
        refused.push(format!("{} ({WASI_NOT_GRANTED})", ungranted_wasi.join(", ")));
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(format!("imports the host will not link: {}", refused.join("; ")))
    }
}

/// The names a component imports (its own imports, not those of components nested in it),
/// read from the bytes without compiling; `None` when they do not parse as a component.
pub fn import_names(bytes: &[u8]) -> Option<Vec<String>> {
    use wasmparser::{Encoding, Parser, Payload};
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.ok()? {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding != Encoding::Component {
                    return None;
                }
                depth += 1;
            }
            Payload::End(_) => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(names);
                }
            }
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    names.push(import.ok()?.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    None
}

/// Which contract version and handlers a component exports, all signatures checked.
pub(crate) struct Handlers {
    pub contract: Contract,
    pub id_token: bool,
    pub access_token: bool,
    /// Exports `batch-listener` (0.2): async events may be handed over several per call.
    pub batch: bool,
}

/// Check every function of the contract the component exports against the contract's WIT
/// signature, so a mismatch is a load error naming the function, not a trap per event.
pub(crate) fn check_exports(linker: &Linker<State>, component: &Component) -> Result<Handlers, String> {
    let engine = linker.engine();
    // Imported resources replaced by the host's own, so `borrow<claims>` can be recognised.
    let ty = linker
        .substituted_component_type(component)
        .map_err(|e| format!("cannot link: {e:#}"))?;
    let mut problems = Vec::new();
    let mut present = |interface: &Interface| -> bool {
        let Some(export) = ty.get_export(engine, interface.name) else {
            return false;
        };
        let ComponentItem::ComponentInstance(instance) = export.ty else {
            problems.push(format!("{} is exported, but not as an interface instance", interface.name));
            return true;
        };
        for (func, want) in interface.funcs {
            match instance.get_export(engine, func).map(|e| e.ty) {
                Some(ComponentItem::ComponentFunc(f)) => {
                    let found = signature(&f);
                    if found != *want {
                        problems.push(format!("{}#{func} has the wrong signature: expected `{want}`, found `{found}`", interface.name));
                    }
                }
                Some(_) => problems.push(format!("{}#{func} is not a function", interface.name)),
                None => problems.push(format!("{} does not export `{func}` (expected `{want}`)", interface.name)),
            }
        }
        true
    };
    // The version is the lifecycle's; the handlers must be of the same version.
    let version = if ty.get_export(engine, V0_1.lifecycle.name).is_some() && ty.get_export(engine, V0_2.lifecycle.name).is_none() { &V0_1 } else { &V0_2 };
    let other = if version.contract == Contract::V0_2 { &V0_1 } else { &V0_2 };
    let lifecycle = present(&version.lifecycle);
    let handlers = Handlers {
        contract: version.contract,
        id_token: present(&version.id_token),
        access_token: present(&version.access_token),
        batch: version.batch.as_ref().is_some_and(&mut present),
    };
    let contract = version.lifecycle.name.replace("/lifecycle", "");
    if !problems.is_empty() {
        return Err(format!("exports that do not match {contract}: {}", problems.join("; ")));
    }
    let mixed: Vec<&str> = [&other.id_token, &other.access_token]
        .into_iter()
        .filter(|i| ty.get_export(engine, i.name).is_some())
        .map(|i| i.name)
        .collect();
    if lifecycle && !mixed.is_empty() {
        return Err(format!("exports {} with {}: all of a listener's exports must be of one contract version (rebuild it against one wit/listener.wit)", mixed.join(", "), version.lifecycle.name));
    }
    let foreign: Vec<&str> = ty
        .exports(engine)
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("tokenwatch:listener/"))
        .collect();
    let hint = if foreign.is_empty() {
        "build it against one of the worlds in wit/listener.wit".to_owned()
    } else {
        format!("it exports {}; this host speaks {SERVED}", foreign.join(", "))
    };
    if !lifecycle {
        return Err(format!("does not export {} ({hint})", V0_2.lifecycle.name));
    }
    if !handlers.id_token && !handlers.access_token {
        return Err(format!(
            "exports neither {} nor {} ({hint})",
            version.id_token.name, version.access_token.name
        ));
    }
    Ok(handlers)
}

/// Refuse a component that creates more core instances than an instance may have. Bytes
/// that do not parse pass here: compiling reports them better.
pub(crate) fn check_core_instances(wasm: &[u8]) -> Result<(), String> {
    match core_instances(wasm) {
        Some(n) if n > MAX_CORE_INSTANCES as u64 => Err(format!(
            "needs more than its limits allow: {n} core instances, over the limit of {MAX_CORE_INSTANCES} per instance"
        )),
        _ => Ok(()),
    }
}

/// Refuse a component whose instantiation would break a static limit: more memories or
/// tables than an instance may have, or an initial memory or table over the listener's
/// limits.
pub(crate) fn check_static_limits(component: &Component, limits: &Limits) -> Result<(), String> {
    // `None` only for a component that imports core modules, which no linker here provides.
    let Some(needs) = component.resources_required() else {
        return Ok(());
    };
    const PAGE: u64 = 64 << 10;
    let mut broken = Vec::new();
    if needs.num_memories as usize > MAX_MEMORIES {
        broken.push(format!("{} linear memories, over the limit of {MAX_MEMORIES} per instance", needs.num_memories));
    }
    if needs.num_tables as usize > MAX_TABLES {
        broken.push(format!("{} tables, over the limit of {MAX_TABLES} per instance", needs.num_tables));
    }
    if let Some(pages) = needs.max_initial_memory_size {
        let initial = pages.saturating_mul(PAGE);
        if initial > limits.memory_bytes as u64 {
            broken.push(format!(
                "a memory of {} at start, over the memory limit of {} (`memory_mb`)",
                bytes(usize::try_from(initial).unwrap_or(usize::MAX)),
                bytes(limits.memory_bytes)
            ));
        }
    }
    if let Some(elements) = needs.max_initial_table_size {
        if elements > limits.table_elements as u64 {
            broken.push(format!(
                "a table of {elements} elements at start, over the limit of {} (`table_elements`)",
                limits.table_elements
            ));
        }
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!("needs more than its limits allow: {}", broken.join("; ")))
    }
}

/// The core instances one instantiation of the component creates: every `instantiate` of a
/// core module, in the component and, as often as they are instantiated, in the components
/// nested in it; `None` when the bytes do not parse. (wasmtime counts the same, plus its own
/// adapter modules between nested components, when it instantiates: this catches at load
/// what would fail every time.)
fn core_instances(bytes: &[u8]) -> Option<u64> {
    use wasmparser::{ComponentAlias, ComponentExternalKind, ComponentInstance, ComponentOuterAliasKind, ComponentTypeRef, Encoding, Instance, Parser, Payload};
    /// One component being read: its component index space (each entry's instance count)
    /// and the core instances it creates itself.
    struct Frame {
        component: bool,
        components: Vec<u64>,
        count: u64,
    }
    let mut stack: Vec<Frame> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.ok()? {
            Payload::Version { encoding, .. } => stack.push(Frame {
                component: encoding == Encoding::Component,
                components: Vec::new(),
                count: 0,
            }),
            Payload::End(_) => {
                let done = stack.pop()?;
                match stack.last_mut() {
                    Some(parent) if done.component => parent.components.push(done.count),
                    Some(_) => {}
                    None => return Some(done.count),
                }
            }
            Payload::InstanceSection(reader) => {
                let frame = stack.last_mut()?;
                for instance in reader {
                    if let Instance::Instantiate { .. } = instance.ok()? {
                        frame.count = frame.count.saturating_add(1);
                    }
                }
            }
            Payload::ComponentInstanceSection(reader) => {
                let frame = stack.last_mut()?;
                for instance in reader {
                    if let ComponentInstance::Instantiate { component_index, .. } = instance.ok()? {
                        let nested = frame.components.get(component_index as usize).copied().unwrap_or(0);
                        frame.count = frame.count.saturating_add(nested);
                    }
                }
            }
            Payload::ComponentImportSection(reader) => {
                let frame = stack.last_mut()?;
                for import in reader {
                    if let ComponentTypeRef::Component(_) = import.ok()?.ty {
                        frame.components.push(0); // never provided by this host
                    }
                }
            }
            Payload::ComponentAliasSection(reader) => {
                for alias in reader {
                    // Each alias of a component takes the next index; one exported by an
                    // instance is already counted where that instance was made.
                    let entry = match alias.ok()? {
                        ComponentAlias::Outer { kind: ComponentOuterAliasKind::Component, count, index } => stack
                            .len()
                            .checked_sub(1 + count as usize)
                            .and_then(|depth| stack[depth].components.get(index as usize).copied())
                            .or(Some(0)),
                        ComponentAlias::InstanceExport { kind: ComponentExternalKind::Component, .. } => Some(0),
                        _ => None,
                    };
                    if let Some(n) = entry {
                        stack.last_mut()?.components.push(n);
                    }
                }
            }
            Payload::ComponentExportSection(reader) => {
                let frame = stack.last_mut()?;
                for export in reader {
                    let export = export.ok()?;
                    if export.kind == ComponentExternalKind::Component {
                        let n = frame.components.get(export.index as usize).copied().unwrap_or(0);
                        frame.components.push(n);
                    }
                }
            }
            _ => {}
        }
    }
    None // it ends early
}

/// A function type as WIT text: `func(name: type, ...) -> result`.
fn signature(f: &ComponentFunc) -> String {
    let params: Vec<String> = f.params().map(|(name, ty)| format!("{name}: {}", wit(&ty))).collect();
    let mut out = format!("func({})", params.join(", "));
    let results: Vec<String> = f.results().map(|ty| wit(&ty)).collect();
    match results.as_slice() {
        [] => {}
        [one] => {
            let _ = write!(out, " -> {one}");
        }
        many => {
            let _ = write!(out, " -> ({})", many.join(", "));
        }
    }
    out
}

/// A value type as WIT text. Resources are named when they are the host's own.
fn wit(ty: &Type) -> String {
    let list = |items: Vec<String>| items.join(", ");
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", wit(&l.ty())),
        Type::Tuple(t) => format!("tuple<{}>", list(t.types().map(|t| wit(&t)).collect())),
        Type::Option(o) => format!("option<{}>", wit(&o.ty())),
        Type::Result(r) => match (r.ok(), r.err()) {
            (None, None) => "result".into(),
            (Some(ok), None) => format!("result<{}>", wit(&ok)),
            (ok, Some(err)) => format!("result<{}, {}>", ok.map_or("_".into(), |t| wit(&t)), wit(&err)),
        },
        Type::Record(r) => format!("record {{ {} }}", list(r.fields().map(|f| format!("{}: {}", f.name, wit(&f.ty))).collect())),
        Type::Variant(v) => format!(
            "variant {{ {} }}",
            list(v.cases().map(|c| match c.ty {
                Some(t) => format!("{}({})", c.name, wit(&t)),
                None => c.name.to_owned(),
            }).collect())
        ),
        Type::Enum(e) => format!("enum {{ {} }}", list(e.names().map(str::to_owned).collect())),
        Type::Flags(f) => format!("flags {{ {} }}", list(f.names().map(str::to_owned).collect())),
        Type::Own(r) => resource(r).to_owned(),
        Type::Borrow(r) => format!("borrow<{}>", resource(r)),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn resource(r: &ResourceType) -> &'static str {
    if *r == ResourceType::host::<ClaimsView>() {
        "claims"
    } else if *r == ResourceType::host::<ContextView>() {
        "event-context"
    } else {
        "a resource other than the host's"
    }
}
