//! The served schema against the SDL of `docs/API.md` §3, read from the document at test
//! time (every ```` ```graphql ```` block of that section), so the document is the contract:
//! every type, field, argument, default and enum value of the contract must be served
//! with the same type; extra ones are allowed (extra arguments only when optional).

use std::collections::BTreeMap;

use async_graphql_parser::parse_schema;
use async_graphql_parser::types::{
    InputValueDefinition, ServiceDocument, TypeKind, TypeSystemDefinition,
};

const API_MD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/API.md");

/// The text of the `## ` section whose heading starts with `heading`, up to the next one.
fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let start = doc
        .match_indices("\n## ")
        .map(|(i, _)| i + 1)
        .find(|&i| doc[i..].starts_with(heading))
        .unwrap_or_else(|| panic!("{API_MD} has no section {heading:?}"));
    let end = doc[start + 3..]
        .find("\n## ")
        .map_or(doc.len(), |i| start + 3 + i);
    &doc[start..end]
}

/// Every ```` ```graphql ```` block of `text`, joined.
fn graphql_blocks(text: &str) -> String {
    let mut sdl = String::new();
    let mut inside = false;
    for line in text.lines() {
        match (inside, line.trim_end()) {
            (false, "```graphql") => inside = true,
            (true, "```") => inside = false,
            (true, line) => {
                sdl.push_str(line);
                sdl.push('\n');
            }
            (false, _) => {}
        }
    }
    assert!(!inside, "an unclosed ```graphql block in {API_MD}");
    sdl
}

/// The SDL of the GraphQL section of `docs/API.md`.
fn contract_sdl() -> String {
    let doc = std::fs::read_to_string(API_MD).unwrap_or_else(|e| panic!("{API_MD}: {e}"));
    graphql_blocks(section(&doc, "## 3. "))
}

#[derive(Debug, PartialEq)]
struct Arg {
    ty: String,
    default: Option<String>,
}

#[derive(Debug, Default)]
struct Field {
    ty: String,
    args: BTreeMap<String, Arg>,
}

#[derive(Debug)]
enum Kind {
    Scalar,
    Object(BTreeMap<String, Field>),
    Enum(Vec<String>),
    Input(BTreeMap<String, Arg>),
    Other,
}

fn arg(v: &InputValueDefinition) -> Arg {
    Arg {
        ty: v.ty.node.to_string(),
        default: v.default_value.as_ref().map(|d| d.node.to_string()),
    }
}

fn index(doc: &ServiceDocument) -> BTreeMap<String, Kind> {
    let mut out = BTreeMap::new();
    for def in &doc.definitions {
        let TypeSystemDefinition::Type(t) = def else {
            continue;
        };
        let kind = match &t.node.kind {
            TypeKind::Scalar => Kind::Scalar,
            TypeKind::Object(o) => Kind::Object(
                o.fields
                    .iter()
                    .map(|f| {
                        let f = &f.node;
                        let field = Field {
                            ty: f.ty.node.to_string(),
                            args: f
                                .arguments
                                .iter()
                                .map(|a| (a.node.name.node.to_string(), arg(&a.node)))
                                .collect(),
                        };
                        (f.name.node.to_string(), field)
                    })
                    .collect(),
            ),
            TypeKind::Enum(e) => Kind::Enum(
                e.values
                    .iter()
                    .map(|v| v.node.value.node.to_string())
                    .collect(),
            ),
            TypeKind::InputObject(i) => Kind::Input(
                i.fields
                    .iter()
                    .map(|f| (f.node.name.node.to_string(), arg(&f.node)))
                    .collect(),
            ),
            _ => Kind::Other,
        };
        out.insert(t.node.name.node.to_string(), kind);
    }
    out
}

fn mismatches(contract: &BTreeMap<String, Kind>, served: &BTreeMap<String, Kind>) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, want) in contract {
        let Some(have) = served.get(name) else {
            problems.push(format!("type {name} is missing"));
            continue;
        };
        match (want, have) {
            (Kind::Scalar, Kind::Scalar) => {}
            (Kind::Enum(want), Kind::Enum(have)) => {
                for v in want.iter().filter(|v| !have.contains(v)) {
                    problems.push(format!("enum {name} lacks {v}"));
                }
            }
            (Kind::Input(want), Kind::Input(have)) => {
                for (f, a) in want {
                    match have.get(f) {
                        Some(h) if h == a => {}
                        other => {
                            problems.push(format!("input {name}.{f}: want {a:?}, have {other:?}"))
                        }
                    }
                }
            }
            (Kind::Object(want), Kind::Object(have)) => {
                for (f, wf) in want {
                    let Some(hf) = have.get(f) else {
                        problems.push(format!("field {name}.{f} is missing"));
                        continue;
                    };
                    if hf.ty != wf.ty {
                        problems.push(format!("{name}.{f}: want {}, have {}", wf.ty, hf.ty));
                    }
                    for (a, wa) in &wf.args {
                        match hf.args.get(a) {
                            Some(ha) if ha == wa => {}
                            other => problems
                                .push(format!("{name}.{f}({a}): want {wa:?}, have {other:?}")),
                        }
                    }
                    for (a, ha) in &hf.args {
                        if !wf.args.contains_key(a) && ha.ty.ends_with('!') && ha.default.is_none()
                        {
                            problems.push(format!("{name}.{f} has an extra required argument {a}"));
                        }
                    }
                }
            }
            (want, have) => problems.push(format!("{name}: want {want:?}, have {have:?}")),
        }
    }
    problems
}

#[test]
fn the_served_schema_contains_every_type_field_and_argument_of_the_contract() {
    let contract = index(&parse_schema(contract_sdl()).expect("contract parses"));
    let sdl = query_api::sdl();
    let served = index(&parse_schema(&sdl).expect("served SDL parses"));
    assert!(
        contract.len() > 40,
        "contract read: {} types",
        contract.len()
    );
    let problems = mismatches(&contract, &served);
    assert!(problems.is_empty(), "{problems:#?}\n\nserved SDL:\n{sdl}");
}

#[test]
fn the_comparison_notices_a_missing_field_and_a_changed_type() {
    let contract =
        index(&parse_schema("type A { x: Int! y(first: Int = 20): String }").expect("parses"));
    let served =
        index(&parse_schema("type A { x: Int y(first: Int = 10): String }").expect("parses"));
    assert_eq!(mismatches(&contract, &served).len(), 2);
}

#[test]
fn the_contract_is_read_from_the_graphql_blocks_of_its_own_section_only() {
    let doc = "# T\n## 2. REST\n```graphql\ntype Rest { a: Int }\n```\n\
               ## 3. Query\ntext\n```graphql\ntype A { x: Int }\n```\nmore\n\
               ```graphql\ntype B { y: Int }\n```\n```json\n{}\n```\n\
               ## 4. CLI\n```graphql\ntype Cli { c: Int }\n```\n";
    let sdl = graphql_blocks(section(doc, "## 3. "));
    assert_eq!(sdl, "type A { x: Int }\ntype B { y: Int }\n");
}
