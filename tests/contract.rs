//! openapi.yaml and the served routes describe the same API.

use e2e::{Api, Engine};
use std::collections::BTreeSet;

/// (METHOD, path) pairs of openapi.yaml's `paths`.
fn documented() -> BTreeSet<(String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    let mut routes = BTreeSet::new();
    let mut path = None;
    let mut in_paths = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            in_paths = line.trim_end() == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /") {
            path = Some(format!("/{}", p.trim_end().trim_end_matches(':')));
        } else if let Some(m) = line.strip_prefix("    ") {
            let m = m.trim_end().trim_end_matches(':');
            if ["get", "put", "post", "delete", "patch"].contains(&m) {
                routes.insert((
                    m.to_uppercase(),
                    path.clone().expect("a method under a path"),
                ));
            }
        }
    }
    routes
}

#[test]
fn openapi_documents_exactly_the_routes_the_service_serves() {
    let served: BTreeSet<(String, String)> = tier_service::ROUTES
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented(), served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_api_answers_every_documented_route() {
    let api = Api::start(Engine::Embedded).await;
    let documented = documented();
    assert_eq!(documented.len(), 9);
    for (method, path) in documented {
        let concrete = path
            .replace("{programId}", "p")
            .replace("{customerId}", "c");
        let body = (method != "GET").then(|| "{}".to_owned());
        let reply = api.send(&method, &concrete, body).await;
        assert!(
            !matches!(reply.code(), "route_not_found" | "method_not_allowed"),
            "{method} {path} is not served: {}",
            reply.body
        );
    }
}

/// The binary serving each function of the router.
fn binary_of(f: tier_service::Function) -> &'static str {
    match f {
        tier_service::Function::UpdateConfig => "update-config",
        tier_service::Function::IngestOrder => "ingest-order",
        tier_service::Function::ReverseReturn => "reverse-return",
        tier_service::Function::QueryStatus => "query-status",
    }
}

/// (binary, [(METHOD, path)]) of each function in infra/template.yaml.
fn template_functions() -> Vec<(String, Vec<(String, String)>)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .unwrap();
    let mut functions: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut in_function = false;
    let mut path = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if line.starts_with("  ") && !line.starts_with("   ") {
            in_function = false;
        }
        if trimmed == "Type: AWS::Serverless::Function" {
            in_function = true;
        }
        if !in_function {
            continue;
        }
        if let Some(binary) = trimmed.strip_prefix("Binary: ") {
            functions.push((binary.to_owned(), Vec::new()));
        } else if let Some(p) = trimmed.strip_prefix("Path: ") {
            path = Some(p.to_owned());
        } else if let Some(m) = trimmed.strip_prefix("Method: ") {
            let route = (m.to_uppercase(), path.take().expect("Path before Method"));
            functions
                .last_mut()
                .expect("Metadata before Events")
                .1
                .push(route);
        }
    }
    functions
}

#[test]
fn every_function_binary_is_in_the_template_and_every_template_function_has_a_binary() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    let mut binaries: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "local-api")
        .collect();
    binaries.sort();
    let mut in_template: Vec<String> = template_functions().into_iter().map(|(b, _)| b).collect();
    in_template.sort();
    assert_eq!(in_template, binaries);
}

#[test]
fn every_documented_route_has_exactly_one_template_event_on_the_function_that_serves_it() {
    let functions = template_functions();
    for (method, path) in documented() {
        let owners: Vec<&str> = functions
            .iter()
            .filter(|(_, routes)| routes.contains(&(method.clone(), path.clone())))
            .map(|(b, _)| b.as_str())
            .collect();
        let served_by = tier_service::ROUTES
            .iter()
            .find(|(m, p, _)| *m == method && *p == path)
            .map(|(_, _, f)| binary_of(*f))
            .unwrap();
        assert_eq!(owners, vec![served_by], "{method} {path}");
    }
    let events: usize = functions.iter().map(|(_, r)| r.len()).sum();
    assert_eq!(
        events,
        documented().len(),
        "no template event without a documented route"
    );
}
