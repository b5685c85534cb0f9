//! openapi.yaml and the served routes describe the same API.

use e2e::{Api, Engine};
use std::collections::BTreeSet;

/// (METHOD, path) pairs of openapi.yaml's `paths` that the service serves
/// (deployed and locally).
fn documented() -> BTreeSet<(String, String)> {
    documented_where(false)
}

/// (METHOD, path) pairs of the paths marked `x-local-only: true` (the
/// local API's own routes), or of all the others.
fn documented_where(local_only: bool) -> BTreeSet<(String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    let mut routes = BTreeSet::new();
    let mut path = None;
    let mut local = false;
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
            local = false;
        } else if line.trim_end() == "    x-local-only: true" {
            local = true;
        } else if local != local_only {
            continue;
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
    assert_eq!(documented.len(), tier_service::ROUTES.len());
    for (method, path) in documented {
        let concrete = path
            .replace("{programId}", "p")
            .replace("{customerId}", "c")
            .replace("{simulationId}", "s")
            .replace("{jobId}", "j");
        let body = (method != "GET").then(|| "{}".to_owned());
        let reply = api.send(&method, &concrete, body).await;
        assert!(
            !matches!(reply.code(), "route_not_found" | "method_not_allowed"),
            "{method} {path} is not served: {}",
            reply.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_api_serves_its_own_documented_routes() {
    let local = documented_where(true);
    assert_eq!(
        local
            .iter()
            .map(|(m, p)| format!("{m} {p}"))
            .collect::<Vec<_>>(),
        [
            "GET /_local/metrics",
            "GET /health",
            "POST /_local/scheduled"
        ]
    );
    let api = Api::start(Engine::Embedded).await;
    for (method, path) in local {
        let body = (method == "POST").then(|| {
            serde_json::json!({"time": "2026-01-01T00:00:00Z", "detail-type": "Scheduled Event"})
                .to_string()
        });
        let reply = api.send(&method, &path, body).await;
        assert_eq!(reply.status, 200, "{method} {path}: {}", reply.body);
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
    // expire-windows is two functions: the scheduled job's and re-evaluation
    // worker, and the simulation worker (more memory and time).
    assert_eq!(
        in_template
            .iter()
            .filter(|b| *b == "expire-windows")
            .count(),
        2,
        "{in_template:?}"
    );
    in_template.dedup();
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

/// Runs tests/contract/validate.py over `exchanges` (JSON lines), with the
/// pinned validator scripts/contract-tools.sh installs.
fn validate(exchanges: &[serde_json::Value]) -> (bool, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let tools = std::process::Command::new("bash")
        .arg("scripts/contract-tools.sh")
        .current_dir(root)
        .output()
        .expect("scripts/contract-tools.sh runs");
    assert!(
        tools.status.success(),
        "{}",
        String::from_utf8_lossy(&tools.stderr)
    );
    let python = String::from_utf8(tools.stdout).unwrap().trim().to_owned();
    let dir = std::env::temp_dir().join(format!(
        "contract-selftest-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let lines: Vec<String> = exchanges.iter().map(|e| e.to_string()).collect();
    std::fs::write(dir.join("exchanges-1.jsonl"), lines.join("\n") + "\n").unwrap();
    let out = std::process::Command::new(python)
        .args(["tests/contract/validate.py", "openapi.yaml"])
        .arg(&dir)
        .current_dir(root)
        .output()
        .expect("the validator runs");
    std::fs::remove_dir_all(&dir).ok();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn exchange(
    method: &str,
    path: &str,
    request: Option<&str>,
    status: u16,
    reply: &str,
) -> serde_json::Value {
    serde_json::json!({
        "test": "selftest", "method": method, "path": path, "query": "",
        "requestBody": request, "requestBodyOmitted": false, "status": status,
        "headers": {"content-type": "application/json"}, "responseBody": reply,
    })
}

#[test]
fn the_contract_check_fails_on_drift() {
    let not_found = r#"{"error":{"code":"customer_not_found","message":"no customer"}}"#;
    let ok = exchange("GET", "/programs/p/customers/c", None, 404, not_found);
    let (passed, report) = validate(std::slice::from_ref(&ok));
    assert!(passed, "{report}");

    // A reply field the spec does not name, a status it does not list, a
    // request accepted that the spec forbids, an undocumented route served.
    let drifts = [
        exchange(
            "GET",
            "/programs/p/customers/c",
            None,
            404,
            r#"{"error":{"code":"x","message":"y"},"extra":1}"#,
        ),
        exchange("GET", "/programs/p/customers/c", None, 418, not_found),
        exchange(
            "POST",
            "/programs/p/config/validate",
            Some(r#"{"currency":"USD","tiers":[]}"#),
            200,
            r#"{"valid":true}"#,
        ),
        exchange("GET", "/programs/p/secret", None, 200, "{}"),
    ];
    for drift in drifts {
        let (passed, report) = validate(&[ok.clone(), drift.clone()]);
        assert!(!passed, "{drift} passed: {report}");
        assert!(report.contains("disagree with the spec"), "{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spec_and_its_rendered_reference_are_served_from_the_binary() {
    let api = Api::start(Engine::Embedded).await;
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{}{path}", api.base)).send();
    let spec = get("/openapi.yaml").await.unwrap();
    assert_eq!(spec.status(), 200);
    assert!(spec.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/yaml"));
    let served = spec.text().await.unwrap();
    let file =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    assert_eq!(served, file);

    let page = get("/docs").await.unwrap().text().await.unwrap();
    assert!(
        page.contains(r#"<script src="/docs/redoc.standalone.js">"#),
        "{page}"
    );
    assert!(page.contains(r#"Redoc.init("/openapi.yaml""#));
    // Built in from the pinned npm package (CI has npm): the whole bundle,
    // nothing to fetch at run time.
    let bundle = get("/docs/redoc.standalone.js").await.unwrap();
    assert_eq!(bundle.status(), 200);
    let bundle = bundle.bytes().await.unwrap();
    assert!(bundle.len() > 1_000_000, "{} bytes", bundle.len());
    assert!(
        bundle.starts_with(b"/*! For license information"),
        "{:?}",
        &bundle[..40]
    );
}
