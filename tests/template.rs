//! infra/template.yaml as CloudFormation receives it: transformed by the
//! pinned aws-sam-translator (tests/template/transform.py, offline), then the
//! intrinsic functions that the transform leaves (Sub, Split, Select, If, …)
//! evaluated here with the parameter values, so that the IAM wiring, the
//! alarms, tracing and the per-program scoping are checked on what would be
//! deployed.
//!
//! Needs the pinned Lambda tooling's python3 first on PATH:
//! `eval "$(scripts/lambda-tools.sh)"` (scripts/test.sh does it). Without it
//! every test here fails and says so; none is skipped.

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};
use std::sync::OnceLock;
use tier_service::{Function, ROUTES};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const INSTALL: &str = r#"eval "$(scripts/lambda-tools.sh)""#;

/// The pseudo parameters the evaluation uses (the transform runs for us-east-1).
const ACCOUNT: &str = "123456789012";
const STACK: &str = "stack";
/// `arn:…:${Api}/${StageName}` of the default stage, with `Ref Api` as `<Api>`.
const API_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:<Api>";

const TABLE_ARN: &str = "<Table.Arn>";
const INDEX_ARN: &str = "<Table.Arn>/index/expiry";
const FIVE_XX_PATTERN: &str = r#"{ $.message = "request" && $.status >= 500 }"#;

fn run_transform(params: &[&str]) -> Output {
    Command::new("python3")
        .arg("tests/template/transform.py")
        .args(params)
        .current_dir(ROOT)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}); the template test needs the pinned aws-sam-translator: run `{INSTALL}` first")
        })
}

fn transformed(params: &[&str]) -> Value {
    let out = run_transform(params);
    assert!(
        out.status.success(),
        "python3 tests/template/transform.py {params:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("transform.py prints JSON")
}

/// The transformed template with the default parameter values, made once.
fn default_template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| Template::new(transformed(&[]), &[]))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other}"),
    }
}

/// A list, or a single value as a list of one (IAM's Action and Resource).
fn list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().map(text).collect(),
        other => vec![text(other)],
    }
}

/// Transformed CloudFormation and the parameter values it is evaluated with.
struct Template {
    doc: Value,
    params: BTreeMap<String, String>,
}

impl Template {
    fn new(doc: Value, overrides: &[&str]) -> Self {
        let mut params = BTreeMap::new();
        for (name, spec) in doc["Parameters"].as_object().expect("Parameters") {
            if let Some(default) = spec.get("Default") {
                params.insert(name.clone(), text(default));
            }
        }
        for o in overrides {
            let (name, value) = o.split_once('=').expect("Name=Value");
            assert!(params.contains_key(name), "no parameter {name}");
            params.insert(name.to_owned(), value.to_owned());
        }
        for (name, value) in [
            ("AWS::Partition", "aws"),
            ("AWS::Region", "us-east-1"),
            ("AWS::AccountId", ACCOUNT),
            ("AWS::StackName", STACK),
            ("AWS::URLSuffix", "amazonaws.com"),
        ] {
            params.insert(name.to_owned(), value.to_owned());
        }
        Template { doc, params }
    }

    /// Transformed with these parameter values and evaluated with them.
    fn with(params: &[&str]) -> Self {
        Template::new(transformed(params), params)
    }

    /// The same transform output evaluated with other parameter values (for
    /// parameters that only intrinsic functions use).
    fn evaluated_with(&self, params: &[&str]) -> Self {
        let mut t = Template::new(self.doc.clone(), &[]);
        t.params = self.params.clone();
        for o in params {
            let (name, value) = o.split_once('=').expect("Name=Value");
            t.params.insert(name.to_owned(), value.to_owned());
        }
        t
    }

    fn resources(&self) -> &Map<String, Value> {
        self.doc["Resources"].as_object().expect("Resources")
    }

    fn resource(&self, id: &str) -> &Value {
        self.resources()
            .get(id)
            .unwrap_or_else(|| panic!("no resource {id}"))
    }

    fn of_type(&self, kind: &str) -> Vec<(&str, &Value)> {
        self.resources()
            .iter()
            .filter(|(_, r)| r["Type"] == kind)
            .map(|(id, r)| (id.as_str(), r))
            .collect()
    }

    fn condition(&self, name: &str) -> bool {
        let c = self.doc["Conditions"]
            .get(name)
            .unwrap_or_else(|| panic!("no condition {name}"));
        self.truth(c)
    }

    fn truth(&self, v: &Value) -> bool {
        let (f, arg) = v
            .as_object()
            .and_then(|m| m.iter().next())
            .unwrap_or_else(|| panic!("not a condition: {v}"));
        match f.as_str() {
            "Fn::Not" => !self.truth(&arg[0]),
            "Fn::And" => arg.as_array().unwrap().iter().all(|c| self.truth(c)),
            "Fn::Or" => arg.as_array().unwrap().iter().any(|c| self.truth(c)),
            "Fn::Equals" => self.string(&arg[0]) == self.string(&arg[1]),
            "Condition" => self.condition(arg.as_str().unwrap()),
            other => panic!("condition function {other}"),
        }
    }

    /// What `Ref name` resolves to: a parameter's value, or `<name>` for a
    /// resource; `None` for AWS::NoValue.
    fn reference(&self, name: &str) -> Option<Value> {
        if name == "AWS::NoValue" {
            return None;
        }
        if let Some(v) = self.params.get(name) {
            return Some(Value::String(v.clone()));
        }
        assert!(self.resources().contains_key(name), "Ref to unknown {name}");
        Some(Value::String(format!("<{name}>")))
    }

    fn sub(&self, template: &str, vars: &Map<String, Value>) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after.find('}').expect("an unclosed ${ in Fn::Sub");
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(v) = vars.get(name) {
                out.push_str(&self.string(v));
            } else if name.contains('.') && !name.starts_with("AWS::") {
                let (resource, _) = name.split_once('.').unwrap();
                assert!(self.resources().contains_key(resource), "${{{name}}}");
                out.push_str(&format!("<{name}>"));
            } else {
                out.push_str(&text(&self.reference(name).expect("NoValue in Fn::Sub")));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn string(&self, v: &Value) -> String {
        text(&self.eval(v).expect("a value"))
    }

    /// Resolves every intrinsic function in `v`; `None` is AWS::NoValue,
    /// dropped from the lists and objects that hold it.
    fn eval(&self, v: &Value) -> Option<Value> {
        match v {
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|i| self.eval(i)).collect(),
            )),
            Value::Object(m) if m.len() == 1 => {
                let (f, arg) = m.iter().next().unwrap();
                match f.as_str() {
                    "Ref" => self.reference(arg.as_str().expect("Ref name")),
                    "Fn::GetAtt" => {
                        let (resource, attribute) = match arg {
                            Value::Array(a) => (text(&a[0]), text(&a[1])),
                            other => {
                                let s = text(other);
                                let (r, a) = s.split_once('.').expect("Resource.Attribute");
                                (r.to_owned(), a.to_owned())
                            }
                        };
                        assert!(
                            self.resources().contains_key(&resource),
                            "GetAtt {resource}"
                        );
                        Some(Value::String(format!("<{resource}.{attribute}>")))
                    }
                    "Fn::Sub" => Some(Value::String(match arg {
                        Value::String(s) => self.sub(s, &Map::new()),
                        Value::Array(a) => {
                            let vars = self.eval(&a[1]).expect("Fn::Sub variables");
                            self.sub(a[0].as_str().unwrap(), vars.as_object().unwrap())
                        }
                        other => panic!("Fn::Sub {other}"),
                    })),
                    "Fn::Join" => {
                        let items = self.eval(&arg[1]).expect("Fn::Join list");
                        let parts: Vec<String> = list(&items);
                        Some(Value::String(parts.join(arg[0].as_str().unwrap())))
                    }
                    "Fn::Split" => {
                        let s = self.string(&arg[1]);
                        Some(Value::Array(
                            s.split(arg[0].as_str().unwrap())
                                .map(|p| Value::String(p.to_owned()))
                                .collect(),
                        ))
                    }
                    "Fn::Select" => {
                        let index: usize = self.string(&arg[0]).parse().unwrap();
                        let items = self.eval(&arg[1]).expect("Fn::Select list");
                        let items = items.as_array().expect("Fn::Select of a list");
                        assert!(index < items.len(), "Fn::Select {index} of {items:?}");
                        Some(items[index].clone())
                    }
                    "Fn::If" => {
                        let branch = if self.condition(arg[0].as_str().unwrap()) {
                            1
                        } else {
                            2
                        };
                        self.eval(&arg[branch])
                    }
                    _ => self.eval_object(m),
                }
            }
            Value::Object(m) => self.eval_object(m),
            other => Some(other.clone()),
        }
    }

    fn eval_object(&self, m: &Map<String, Value>) -> Option<Value> {
        Some(Value::Object(
            m.iter()
                .filter_map(|(k, v)| self.eval(v).map(|v| (k.clone(), v)))
                .collect(),
        ))
    }

    fn alarms(&self) -> Vec<(&str, &Value)> {
        self.of_type("AWS::CloudWatch::Alarm")
    }

    /// Every statement of the policies of a state machine's role.
    fn role_statements(&self, machine: &Value) -> Vec<Value> {
        let role_id = machine["RoleArn"]
            .as_str()
            .unwrap()
            .trim_start_matches('<')
            .trim_end_matches(".Arn>");
        let role = self.eval(&self.resource(role_id)["Properties"]).unwrap();
        role["Policies"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
            .cloned()
            .collect()
    }

    /// The alarms on one metric (not metric math).
    fn alarms_on(&self, namespace: &str, metric: &str) -> Vec<Value> {
        self.alarms()
            .into_iter()
            .map(|(_, a)| self.eval(&a["Properties"]).unwrap())
            .filter(|p| p["Namespace"] == namespace && p["MetricName"] == metric)
            .collect()
    }
}

fn logical_id(f: Function) -> &'static str {
    match f {
        Function::UpdateConfig => "UpdateConfigFunction",
        Function::IngestOrder => "IngestOrderFunction",
        Function::ReverseReturn => "ReverseReturnFunction",
        Function::QueryStatus => "QueryStatusFunction",
    }
}

/// The execute-api ARN of a route in the default stage for one program id
/// (customer ids as `*`).
fn route_arn(method: &str, path: &str, stage: &str, program: &str) -> String {
    let path = path
        .replace("{programId}", program)
        .replace("{customerId}", "*")
        .replace("{simulationId}", "*")
        .replace("{jobId}", "*");
    format!("{API_ARN}/{stage}/{method}{path}")
}

/// Route ARNs of the functions `which` picks, for each of `programs`.
fn route_arns(which: impl Fn(Function) -> bool, programs: &[&str]) -> BTreeSet<String> {
    ROUTES
        .iter()
        .filter(|(_, _, f)| which(*f))
        .flat_map(|(m, p, _)| programs.iter().map(|id| route_arn(m, p, "prod", id)))
        .collect()
}

fn is_admin(f: Function) -> bool {
    f == Function::UpdateConfig
}

/// Every resource a caller policy allows; each statement allows
/// execute-api:Invoke alone, with no condition or NotResource to misread.
fn caller_policy_resources(t: &Template, id: &str) -> BTreeSet<String> {
    let policy = t.resource(id);
    assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy");
    for name in ["ManagedPolicyName", "Roles", "Users", "Groups"] {
        assert!(policy["Properties"].get(name).is_none(), "{id} sets {name}");
    }
    let document = t.eval(&policy["Properties"]["PolicyDocument"]).unwrap();
    let mut resources = BTreeSet::new();
    for statement in document["Statement"].as_array().unwrap() {
        let keys: BTreeSet<&str> = statement
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["Action", "Effect", "Resource"]),
            "{id}: {statement}"
        );
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(
            list(&statement["Action"]),
            vec!["execute-api:Invoke"],
            "{id}"
        );
        resources.extend(list(&statement["Resource"]));
    }
    resources
}

/// Walks every object in `v`.
fn walk<'a>(v: &'a Value, visit: &mut dyn FnMut(&'a Map<String, Value>)) {
    match v {
        Value::Object(m) => {
            visit(m);
            m.values().for_each(|c| walk(c, visit));
        }
        Value::Array(a) => a.iter().for_each(|c| walk(c, visit)),
        _ => {}
    }
}

#[test]
fn every_route_is_iam_authorized_and_invokes_its_function_without_the_callers_credentials() {
    let t = default_template();
    let api = t.resource("Api");
    assert_eq!(api["Type"], "AWS::ApiGateway::RestApi");
    let body = &api["Properties"]["Body"];
    assert_eq!(
        body["securityDefinitions"]["AWS_IAM"]["x-amazon-apigateway-authtype"],
        "awsSigv4"
    );
    let mut served = BTreeSet::new();
    for (path, methods) in body["paths"].as_object().unwrap() {
        for (method, operation) in methods.as_object().unwrap() {
            assert_eq!(
                operation["security"],
                json!([{"AWS_IAM": []}]),
                "{method} {path} is not AWS_IAM-authorized"
            );
            let integration = &operation["x-amazon-apigateway-integration"];
            assert_eq!(integration["type"], "aws_proxy", "{method} {path}");
            assert!(
                integration.get("credentials").is_none(),
                "{method} {path}: API Gateway would invoke the function with {} (InvokeRole NONE missing?)",
                integration["credentials"]
            );
            let uri = t.string(&integration["uri"]);
            let function = uri
                .split("/functions/<")
                .nth(1)
                .and_then(|s| s.split(".Arn>").next())
                .unwrap_or_else(|| panic!("{method} {path}: integration {uri}"))
                .to_owned();
            served.insert((method.to_uppercase(), path.clone(), function));
        }
    }
    let expected: BTreeSet<(String, String, String)> = ROUTES
        .iter()
        .map(|(m, p, f)| ((*m).to_owned(), (*p).to_owned(), logical_id(*f).to_owned()))
        .collect();
    assert_eq!(served, expected);

    // Nor anywhere else: no integration of any kind carries credentials.
    walk(&t.doc, &mut |object| {
        for key in ["x-amazon-apigateway-integration", "Integration"] {
            if let Some(integration) = object.get(key) {
                assert!(
                    integration.get("credentials").is_none()
                        && integration.get("Credentials").is_none(),
                    "an integration with credentials: {integration}"
                );
            }
        }
    });
}

#[test]
fn lambda_permissions_let_this_api_invoke_each_function_on_its_own_routes_only() {
    let t = default_template();
    let mut granted: Vec<(String, String, String)> = t
        .of_type("AWS::Lambda::Permission")
        .into_iter()
        .map(|(id, p)| {
            let props = &p["Properties"];
            assert_eq!(props["Action"], "lambda:InvokeFunction", "{id}");
            for key in ["SourceAccount", "EventSourceToken", "PrincipalOrgID"] {
                assert!(props.get(key).is_none(), "{id} sets {key}");
            }
            let function = props["FunctionName"]["Ref"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: FunctionName {}", props["FunctionName"]));
            (
                function.to_owned(),
                text(&props["Principal"]),
                t.string(&props["SourceArn"]),
            )
        })
        .collect();
    granted.sort();
    // SAM grants each API event on every stage of this API ("*"), scoped to
    // the route's method and path.
    let mut expected: Vec<(String, String, String)> = ROUTES
        .iter()
        .map(|(m, p, f)| {
            (
                logical_id(*f).to_owned(),
                "apigateway.amazonaws.com".to_owned(),
                route_arn(m, p, "*", "*"),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(granted, expected);
}

/// DynamoDB actions a function's binary uses, from shared/store and
/// shared/service: GetItem (every load), Query (a customer's orders when a
/// tracker is rebuilt, which every customer read may do), and
/// TransactWriteItems, authorized per item as PutItem (events, state, expiry
/// entries, configs), DeleteItem (an expiry entry dropped) and
/// ConditionCheckItem (the config version check). query-status only reads.
const READER: &[&str] = &["dynamodb:GetItem", "dynamodb:Query"];
/// The admin function also stores simulations (UpdateItem: a stale one
/// failed), which their own worker runs.
const CONFIG: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:UpdateItem",
];
/// The simulation worker: the job, its config versions and parts (GetItem,
/// Query), the history (Scan), the parts (PutItem), the job (UpdateItem).
const SIMULATOR: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
];
/// The scheduled job's worker also runs re-evaluation steps: a Scan of the
/// program's customers and UpdateItem for the job's progress.
const ADMIN: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
];
const WRITER: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
];

#[test]
fn each_function_role_allows_only_the_dynamodb_actions_its_binary_uses_on_the_table() {
    let t = default_template();
    let expected: &[(&str, &[&str], &[&str])] = &[
        ("IngestOrderFunction", WRITER, &[TABLE_ARN]),
        ("ReverseReturnFunction", WRITER, &[TABLE_ARN]),
        ("UpdateConfigFunction", CONFIG, &[TABLE_ARN]),
        ("SimulationWorkerFunction", SIMULATOR, &[TABLE_ARN]),
        // The events feed reads its partitions of the sparse index.
        ("QueryStatusFunction", READER, &[TABLE_ARN, INDEX_ARN]),
        // The scheduled job also queries the sparse expiry index, and runs
        // re-evaluation steps (a Scan, the job's UpdateItem).
        ("ExpireWindowsFunction", ADMIN, &[TABLE_ARN, INDEX_ARN]),
    ];
    let functions: BTreeSet<&str> = t
        .of_type("AWS::Lambda::Function")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        functions,
        expected.iter().map(|(f, _, _)| *f).collect::<BTreeSet<_>>()
    );
    for (function, actions, resources) in expected {
        let role_id = t.resource(function)["Properties"]["Role"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{function} has no role of this stack"));
        let role = t.eval(&t.resource(role_id)["Properties"]).unwrap();
        assert_eq!(
            role["AssumeRolePolicyDocument"]["Statement"],
            json!([{"Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}}]),
            "{role_id}"
        );
        // Logs (to its own group) and X-Ray segments, nothing else.
        assert_eq!(
            list(&role["ManagedPolicyArns"]),
            vec![
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
            ],
            "{role_id}"
        );
        assert!(role.get("PermissionsBoundary").is_none());
        let mut allowed = BTreeSet::new();
        let mut on = BTreeSet::new();
        for policy in role["Policies"].as_array().unwrap() {
            for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                assert_eq!(statement["Effect"], "Allow", "{role_id}: {statement}");
                assert!(
                    statement.get("NotAction").is_none() && statement.get("NotResource").is_none()
                );
                for action in list(&statement["Action"]) {
                    assert!(
                        action.starts_with("dynamodb:") && !action.contains('*'),
                        "{role_id} allows {action}"
                    );
                    allowed.insert(action);
                }
                for resource in list(&statement["Resource"]) {
                    assert!(
                        resources.contains(&resource.as_str()),
                        "{role_id} allows {resource}"
                    );
                    on.insert(resource);
                }
            }
        }
        assert_eq!(
            allowed,
            actions
                .iter()
                .map(|a| (*a).to_owned())
                .collect::<BTreeSet<_>>(),
            "{function}"
        );
        assert_eq!(
            on,
            resources
                .iter()
                .map(|r| (*r).to_owned())
                .collect::<BTreeSet<_>>(),
            "{function}"
        );
    }
}

#[test]
fn the_caller_policies_allow_exactly_their_own_routes_of_this_api_and_stage() {
    let t = default_template();
    // ProgramIds defaults to "*": every program.
    assert_eq!(
        caller_policy_resources(t, "IngestionClientPolicy"),
        route_arns(|f| !is_admin(f), &["*"])
    );
    assert_eq!(
        caller_policy_resources(t, "AdminPolicy"),
        route_arns(is_admin, &["*"])
    );
}

#[test]
fn program_ids_scope_both_caller_policies_to_those_programs_paths() {
    let t = Template::with(&["ProgramIds=brand-a,brand-b"]);
    let ingestion = caller_policy_resources(&t, "IngestionClientPolicy");
    let admin = caller_policy_resources(&t, "AdminPolicy");
    assert_eq!(
        ingestion,
        route_arns(|f| !is_admin(f), &["brand-a", "brand-b"])
    );
    assert_eq!(admin, route_arns(is_admin, &["brand-a", "brand-b"]));
    for arn in ingestion.iter().chain(&admin) {
        assert!(
            arn.contains("/programs/brand-a/") || arn.contains("/programs/brand-b/"),
            "{arn}"
        );
    }
}

#[test]
fn five_program_ids_are_all_scoped_and_a_sixth_or_a_wildcard_id_is_refused() {
    let five = ["p1", "p2", "p3", "p4", "p5"];
    let t = Template::with(&[&format!("ProgramIds={}", five.join(","))]);
    assert_eq!(
        caller_policy_resources(&t, "IngestionClientPolicy"),
        route_arns(|f| !is_admin(f), &five)
    );
    assert_eq!(
        caller_policy_resources(&t, "AdminPolicy"),
        route_arns(is_admin, &five)
    );
    // A value the template cannot scope exactly must fail the deploy, not
    // widen or silently drop a program.
    for refused in [
        "p1,p2,p3,p4,p5,p6",
        "brand-*",
        "*,brand-a",
        "brand-?",
        "a/b",
        "a,,b",
        "",
    ] {
        let out = run_transform(&[&format!("ProgramIds={refused}")]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "ProgramIds={refused} was accepted:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("AllowedPattern"));
    }
}

#[test]
fn every_alarm_notifies_the_topic_which_mails_only_when_an_address_is_given() {
    let t = default_template();
    let alarms = t.alarms();
    assert!(alarms.len() >= 15, "{} alarms", alarms.len());
    for (id, alarm) in &alarms {
        assert_eq!(
            alarm["Properties"]["AlarmActions"],
            json!([{"Ref": "AlarmTopic"}]),
            "{id}"
        );
        assert!(alarm.get("Condition").is_none(), "{id} is conditional");
    }
    assert_eq!(t.resource("AlarmTopic")["Type"], "AWS::SNS::Topic");
    let subscriptions = t.of_type("AWS::SNS::Subscription");
    assert_eq!(subscriptions.len(), 1);
    let (_, subscription) = subscriptions[0];
    assert_eq!(subscription["Condition"], "HasAlarmEmail");
    assert_eq!(
        subscription["Properties"],
        json!({"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}})
    );
    assert!(!t.condition("HasAlarmEmail"), "subscribed with no address");
    assert!(t
        .evaluated_with(&["AlarmEmail=ops@example.com"])
        .condition("HasAlarmEmail"));
}

/// A metric's name and dimensions.
type Metric = (String, BTreeMap<String, String>);

#[test]
fn the_api_and_the_table_have_alarms_on_5xx_p99_latency_throttles_and_system_errors() {
    let t = default_template();
    let api_name = t.string(&t.resource("Api")["Properties"]["Name"]);
    assert_eq!(api_name, STACK);
    let api_dimensions = json!([
        {"Name": "ApiName", "Value": api_name},
        {"Name": "Stage", "Value": "prod"}
    ]);

    let errors = t.alarms_on("AWS/ApiGateway", "5XXError");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["Dimensions"], api_dimensions);
    assert_eq!(errors[0]["Statistic"], "Sum");

    let latency = t.alarms_on("AWS/ApiGateway", "Latency");
    assert_eq!(latency.len(), 1);
    assert_eq!(latency[0]["Dimensions"], api_dimensions);
    assert_eq!(latency[0]["ExtendedStatistic"], "p99");
    assert_eq!(latency[0]["Threshold"], "1000");

    // Metric-math alarms: (metric, dimensions) of every metric they add up.
    let mut math: Vec<(String, BTreeSet<Metric>)> = Vec::new();
    for (id, alarm) in t.alarms() {
        let props = t.eval(&alarm["Properties"]).unwrap();
        let Some(queries) = props["Metrics"].as_array() else {
            continue;
        };
        let returned: Vec<&Value> = queries.iter().filter(|q| q["ReturnData"] == true).collect();
        assert_eq!(returned.len(), 1, "{id}");
        let expression = text(&returned[0]["Expression"]);
        let mut metrics = BTreeSet::new();
        for q in queries.iter().filter(|q| q["ReturnData"] == false) {
            assert!(
                expression.contains(&text(&q["Id"])),
                "{id}: {expression} leaves out {}",
                q["Id"]
            );
            let metric = &q["MetricStat"]["Metric"];
            assert_eq!(metric["Namespace"], "AWS/DynamoDB", "{id}");
            let dimensions = metric["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| (text(&d["Name"]), text(&d["Value"])))
                .collect();
            metrics.insert((text(&metric["MetricName"]), dimensions));
        }
        math.push((id.to_owned(), metrics));
    }
    let dims = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let has = |metric: &str, d: BTreeMap<String, String>| {
        math.iter()
            .any(|(_, ms)| ms.contains(&(metric.to_owned(), d.clone())))
    };
    for metric in ["ReadThrottleEvents", "WriteThrottleEvents"] {
        assert!(
            has(metric, dims(&[("TableName", "<Table>")])),
            "{metric} of the table"
        );
        assert!(
            has(
                metric,
                dims(&[
                    ("TableName", "<Table>"),
                    ("GlobalSecondaryIndexName", "expiry")
                ])
            ),
            "{metric} of the expiry index"
        );
    }
    for operation in ["GetItem", "Query", "TransactWriteItems"] {
        assert!(
            has(
                "SystemErrors",
                dims(&[("TableName", "<Table>"), ("Operation", operation)])
            ),
            "SystemErrors of {operation}"
        );
    }
}

#[test]
fn each_api_function_counts_its_own_5xx_answers_in_its_log_group_and_alarms_on_them() {
    let t = default_template();
    let api_functions: BTreeSet<&str> = ROUTES.iter().map(|(_, _, f)| logical_id(*f)).collect();
    let filters = t.of_type("AWS::Logs::MetricFilter");
    assert_eq!(filters.len(), api_functions.len());
    for (id, function) in t.of_type("AWS::Lambda::Function") {
        let logging = &function["Properties"]["LoggingConfig"];
        assert_eq!(logging["LogFormat"], "JSON", "{id}");
        let group_id = logging["LogGroup"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} logs to no group of this stack"));
        let group = t.resource(group_id);
        assert_eq!(group["Type"], "AWS::Logs::LogGroup");
        assert_eq!(
            group["Properties"]["RetentionInDays"],
            json!({"Ref": "LogRetentionDays"}),
            "{group_id}"
        );
        if !api_functions.contains(id) {
            continue;
        }
        let on_group: Vec<&Value> = filters
            .iter()
            .filter(|(_, f)| f["Properties"]["LogGroupName"] == json!({"Ref": group_id}))
            .map(|(_, f)| *f)
            .collect();
        assert_eq!(on_group.len(), 1, "{id}: metric filters on {group_id}");
        let filter = t.eval(&on_group[0]["Properties"]).unwrap();
        assert_eq!(filter["FilterPattern"], FIVE_XX_PATTERN, "{id}");
        let transformations = filter["MetricTransformations"].as_array().unwrap();
        assert_eq!(transformations.len(), 1);
        let m = &transformations[0];
        assert_eq!(m["MetricValue"], "1");
        let alarms = t.alarms_on(&text(&m["MetricNamespace"]), &text(&m["MetricName"]));
        assert_eq!(alarms.len(), 1, "{id}: alarms on {}", m["MetricName"]);
        assert_eq!(alarms[0]["Statistic"], "Sum");
        // No other filter or function feeds the same metric.
        let same_metric = filters
            .iter()
            .filter(|(_, f)| {
                t.eval(&f["Properties"]["MetricTransformations"][0])
                    .unwrap()
                    == *m
            })
            .count();
        assert_eq!(same_metric, 1, "{id}");
    }
}

#[test]
fn the_api_stage_and_every_function_are_traced_with_x_ray() {
    let t = default_template();
    let stages = t.of_type("AWS::ApiGateway::Stage");
    assert_eq!(stages.len(), 1);
    assert_eq!(stages[0].1["Properties"]["TracingEnabled"], true);
    for (id, function) in t.of_type("AWS::Lambda::Function") {
        assert_eq!(
            function["Properties"]["TracingConfig"],
            json!({"Mode": "Active"}),
            "{id}"
        );
    }
}

#[test]
fn the_account_wide_api_gateway_role_is_set_only_when_asked_and_access_logs_stay_on() {
    let t = default_template();
    let conditional = ["ApiGatewayAccount", "ApiGatewayCloudWatchRole"];
    for id in conditional {
        assert_eq!(
            t.resource(id)["Condition"],
            "ManagesApiGatewayAccountRole",
            "{id}"
        );
    }
    assert!(
        !t.condition("ManagesApiGatewayAccountRole"),
        "on by default"
    );
    let on = t.evaluated_with(&["ManageApiGatewayAccountRole=true"]);
    assert!(on.condition("ManagesApiGatewayAccountRole"));

    // Off, nothing left refers to the two resources; on, the access log group
    // (and so the stage that writes to it) waits for the account setting.
    for (flag, evaluated) in [(false, t), (true, &on)] {
        for (id, resource) in t.resources() {
            if conditional.contains(&id.as_str()) {
                continue;
            }
            let text = evaluated.eval(resource).unwrap().to_string();
            let refers =
                text.contains("<ApiGatewayAccount>") || text.contains("<ApiGatewayCloudWatchRole");
            assert_eq!(
                refers,
                flag && id == "ApiAccessLogs",
                "{id} with the role {flag}"
            );
        }
    }
    let stage = &t.of_type("AWS::ApiGateway::Stage")[0].1["Properties"];
    assert_eq!(
        stage["AccessLogSetting"]["DestinationArn"],
        json!({"Fn::GetAtt": ["ApiAccessLogs", "Arn"]})
    );
}

#[test]
fn no_iam_resource_is_named_so_the_deploy_asks_for_capability_iam_only() {
    let t = default_template();
    for (id, resource) in t.resources() {
        if !text(&resource["Type"]).starts_with("AWS::IAM::") {
            continue;
        }
        for name in [
            "RoleName",
            "ManagedPolicyName",
            "GroupName",
            "UserName",
            "InstanceProfileName",
        ] {
            assert!(
                resource["Properties"].get(name).is_none(),
                "{id} sets {name}"
            );
        }
    }
    let samconfig = std::fs::read_to_string(format!("{ROOT}/samconfig.toml")).unwrap();
    let capabilities: Vec<&str> = samconfig
        .lines()
        .filter_map(|l| l.trim().strip_prefix("capabilities"))
        .map(|rest| rest.trim_start_matches([' ', '=']).trim())
        .collect();
    assert_eq!(capabilities, vec![r#""CAPABILITY_IAM""#]);
}

#[test]
fn tier_events_flow_from_the_table_stream_through_a_pipe_to_the_stacks_bus() {
    let t = default_template();
    let table = t.eval(&t.resource("Table")["Properties"]).unwrap();
    assert_eq!(
        table["StreamSpecification"],
        json!({"StreamViewType": "NEW_IMAGE"})
    );
    // Two pipes read the stream: notices to the bus, jobs to their runs.
    let pipes: BTreeSet<&str> = t
        .of_type("AWS::Pipes::Pipe")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        pipes,
        BTreeSet::from(["ReevaluationPipe", "SimulationPipe", "TierEventsPipe"])
    );
    let pipe = t.eval(&t.resource("TierEventsPipe")["Properties"]).unwrap();
    assert_eq!(pipe["Source"], "<Table.StreamArn>");
    assert_eq!(pipe["Target"], "<TierEventsBus.Arn>");
    assert_eq!(t.resource("TierEventsBus")["Type"], "AWS::Events::EventBus");
    let source = &pipe["SourceParameters"];
    let stream = &source["DynamoDBStreamParameters"];
    // From the oldest record kept, so nothing written while the pipe is
    // created is lost; what fails its retries is kept, not dropped.
    assert_eq!(stream["StartingPosition"], "TRIM_HORIZON");
    assert_eq!(
        stream["DeadLetterConfig"]["Arn"],
        "<TierEventsDeadLetters.Arn>"
    );
    let filters = source["FilterCriteria"]["Filters"].as_array().unwrap();
    assert_eq!(filters.len(), 1);
    let pattern: Value = serde_json::from_str(filters[0]["Pattern"].as_str().unwrap()).unwrap();
    assert_eq!(
        pattern,
        json!({"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "NOTICE#"}]}}}})
    );
    // The prefix is the store's: a notice item's sort key.
    assert!(tier_store::keys::notice_sk(7).starts_with("NOTICE#"));
    let target = &pipe["TargetParameters"];
    assert_eq!(
        target["EventBridgeEventBusParameters"],
        json!({"DetailType": "$.dynamodb.NewImage.type.S", "Source": "tier-engine"})
    );
    // The detail carries exactly the fields the local feed serves, each
    // from the item attribute of its name.
    let detail = target["InputTemplate"].as_str().unwrap();
    let marked = detail
        .replace("<$.dynamodb.NewImage.", "@")
        .replace(".S>", "");
    let marked: Map<String, Value> = serde_json::from_str(&marked).expect(detail);
    let mut names: Vec<&str> = marked.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut fields = tier_service::notices::EVENT_FIELDS.to_vec();
    fields.sort_unstable();
    assert_eq!(names, fields);
    for (name, value) in &marked {
        assert_eq!(value, &json!(format!("@{name}")), "{detail}");
    }
    // The pipe's role reads this table's stream and writes to this bus and
    // its dead-letter queue, nothing else.
    let role = t
        .eval(&t.resource("TierEventsPipeRole")["Properties"])
        .unwrap();
    assert_eq!(pipe["RoleArn"], "<TierEventsPipeRole.Arn>");
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
        json!({"Service": "pipes.amazonaws.com"})
    );
    let mut granted = BTreeSet::new();
    for policy in role["Policies"].as_array().unwrap() {
        for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
            assert_eq!(statement["Effect"], "Allow");
            for action in list(&statement["Action"]) {
                for resource in list(&statement["Resource"]) {
                    granted.insert((action.clone(), resource));
                }
            }
        }
    }
    let stream_arn = "<Table.StreamArn>";
    let expected: BTreeSet<(String, String)> = [
        ("dynamodb:DescribeStream", stream_arn),
        ("dynamodb:GetRecords", stream_arn),
        ("dynamodb:GetShardIterator", stream_arn),
        ("dynamodb:ListStreams", stream_arn),
        ("events:PutEvents", "<TierEventsBus.Arn>"),
        ("sqs:SendMessage", "<TierEventsDeadLetters.Arn>"),
    ]
    .iter()
    .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
    .collect();
    assert_eq!(granted, expected);
    // Undelivered events alarm.
    let depth = t.alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible");
    assert!(
        depth
            .iter()
            .any(|a| a["Dimensions"][0]["Value"] == "<TierEventsDeadLetters.QueueName>"),
        "{depth:?}"
    );
}

#[test]
fn every_function_writes_states_and_events_in_the_forms_the_parameters_choose() {
    let t = default_template();
    for (parameter, env) in [
        ("StateFormat", tier_store::STATE_FORMAT_ENV),
        ("EventFormat", tier_store::EVENT_FORMAT_ENV),
    ] {
        let declared = &t.doc["Parameters"][parameter];
        assert_eq!(
            declared["Default"], "json",
            "{parameter}: the form every release reads"
        );
        assert_eq!(declared["AllowedValues"], json!(["json", "binary"]));
        for chosen in ["json", "binary"] {
            let evaluated = t.evaluated_with(&[&format!("{parameter}={chosen}")]);
            let functions = evaluated.of_type("AWS::Lambda::Function");
            assert_eq!(functions.len(), 6, "{functions:?}");
            for (id, function) in functions {
                let vars = evaluated
                    .eval(&function["Properties"]["Environment"])
                    .unwrap();
                let value = text(&vars["Variables"][env]);
                assert_eq!(value, chosen, "{id}: {env}");
                assert!(tier_store::ItemFormat::parse(env, Some(&value)).is_ok());
            }
        }
    }
}

#[test]
fn every_function_refuses_events_dated_past_the_lead_the_stack_sets() {
    let t = default_template();
    let parameter = &t.doc["Parameters"]["MaxEventLeadSeconds"];
    assert_eq!(parameter["Type"], "Number");
    assert_eq!(
        text(&parameter["Default"]),
        tier_service::DEFAULT_EVENT_LEAD_SECONDS.to_string()
    );
    assert_eq!(text(&parameter["MinValue"]), "0");
    let longer = t.evaluated_with(&["MaxEventLeadSeconds=3600"]);
    let functions = longer.of_type("AWS::Lambda::Function");
    assert_eq!(functions.len(), 6, "{functions:?}");
    for (id, function) in functions {
        let env = longer.eval(&function["Properties"]["Environment"]).unwrap();
        let lead = text(&env["Variables"][tier_service::EVENT_LEAD_ENV]);
        assert_eq!(
            tier_service::event_lead_seconds(Some(&lead)),
            Ok(3600),
            "{id}"
        );
    }
}

#[test]
fn notice_items_expire_by_ttl_and_the_deletions_publish_nothing() {
    let t = default_template();
    let table = t.eval(&t.resource("Table")["Properties"]).unwrap();
    // The store writes the attribute on notice items, and only there.
    assert_eq!(
        table["TimeToLiveSpecification"],
        json!({"AttributeName": tier_store::NOTICE_TTL_ATTRIBUTE, "Enabled": true})
    );
    assert_eq!(tier_store::NOTICE_TTL_ATTRIBUTE, "expiresAt");
    // The retention is a parameter with the store's default and bounds, in
    // every function's environment (they all build the store from it).
    let parameter = &t.doc["Parameters"]["NoticeRetentionDays"];
    assert_eq!(parameter["Type"], "Number");
    assert_eq!(
        text(&parameter["Default"]),
        tier_store::DEFAULT_NOTICE_RETENTION_DAYS.to_string()
    );
    assert_eq!(text(&parameter["MinValue"]), "1");
    assert_eq!(
        text(&parameter["MaxValue"]),
        tier_store::MAX_NOTICE_RETENTION_DAYS.to_string()
    );
    let shorter = t.evaluated_with(&["NoticeRetentionDays=30"]);
    let functions = shorter.of_type("AWS::Lambda::Function");
    assert_eq!(functions.len(), 6, "{functions:?}");
    for (id, function) in functions {
        let env = shorter
            .eval(&function["Properties"]["Environment"])
            .unwrap();
        assert_eq!(
            env["Variables"][tier_store::NOTICE_RETENTION_ENV],
            "30",
            "{id}"
        );
        let days = text(&env["Variables"][tier_store::NOTICE_RETENTION_ENV]);
        assert_eq!(tier_store::notice_retention_days(Some(&days)).unwrap(), 30);
    }
    // A TTL deletion reaches the stream as a REMOVE record: both pipes take
    // INSERT records only, so it never publishes an event nor starts a run.
    let pipes = t.of_type("AWS::Pipes::Pipe");
    assert_eq!(pipes.len(), 3);
    for (id, pipe) in pipes {
        let pipe = t.eval(&pipe["Properties"]).unwrap();
        let filters = pipe["SourceParameters"]["FilterCriteria"]["Filters"]
            .as_array()
            .unwrap();
        assert!(!filters.is_empty(), "{id} has no filter");
        for filter in filters {
            let pattern: Value = serde_json::from_str(filter["Pattern"].as_str().unwrap()).unwrap();
            assert_eq!(pattern["eventName"], json!(["INSERT"]), "{id}: {pattern}");
        }
    }
}

#[test]
fn the_schedule_runs_a_state_machine_that_fans_the_job_out_over_every_shard() {
    let t = default_template();
    // The schedule starts the state machine, not the function.
    let rules = t.of_type("AWS::Events::Rule");
    assert_eq!(rules.len(), 1, "{rules:?}");
    let rule = t.eval(&rules[0].1["Properties"]).unwrap();
    let target = &rule["Targets"][0];
    assert_eq!(target["Arn"], t.reference("ExpiryStateMachine").unwrap());
    assert_eq!(
        target["DeadLetterConfig"]["Arn"],
        "<ExpiryStateMachineScheduleQueue.Arn>"
    );
    let machine = t
        .eval(&t.resource("ExpiryStateMachine")["Properties"])
        .unwrap();
    assert_eq!(machine["TracingConfiguration"]["Enabled"], true);
    assert_eq!(
        machine["DefinitionSubstitutions"]["Worker"],
        "<ExpireWindowsFunction.Arn>"
    );
    let definition: Value =
        serde_json::from_str(machine["DefinitionString"].as_str().unwrap()).unwrap();
    let states = &definition["States"];
    let last = tier_store::keys::EXPIRY_SHARDS - 1;
    assert_eq!(
        states["Shards"]["Parameters"]["shards.$"],
        format!("States.ArrayRange(0, {last}, 1)"),
        "one branch per shard of the index"
    );
    let map = &states["EachShard"];
    assert_eq!(map["Type"], "Map");
    assert_eq!(map["MaxConcurrency"], tier_store::keys::EXPIRY_SHARDS);
    assert_eq!(
        map["ItemSelector"],
        json!({"shard.$": "$$.Map.Item.Value", "time.$": "$.time"})
    );
    let branch = &map["ItemProcessor"]["States"];
    let page = &branch["Page"];
    assert_eq!(page["Resource"], "arn:aws:states:::lambda:invoke");
    assert_eq!(page["Parameters"]["FunctionName"], "${Worker}");
    assert_eq!(page["Parameters"]["Payload.$"], "$");
    // A refused step (a cursor of another shard, say) is not retried:
    // the first retrier takes it with no attempts, before the one for
    // every task failure that would.
    assert_eq!(
        page["Retry"][0],
        json!({"ErrorEquals": [tier_service::lambda::REFUSED], "MaxAttempts": 0})
    );
    assert!(page["Retry"][1]["ErrorEquals"]
        .as_array()
        .unwrap()
        .contains(&json!("States.TaskFailed")));
    assert_eq!(
        states["Totals"]["Retry"][0],
        json!({"ErrorEquals": [tier_service::lambda::REFUSED], "MaxAttempts": 0})
    );
    // A shard that keeps failing is reported to the totals; the others go on.
    assert_eq!(
        page["Catch"],
        json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "ShardFailed"}])
    );
    assert_eq!(branch["ShardFailed"]["Parameters"]["failed"], true);
    // Another page while the worker hands back `after`.
    assert_eq!(
        branch["MorePages"]["Choices"][0],
        json!({"Variable": "$.after", "IsPresent": true, "Next": "Page"})
    );
    assert_eq!(map["Next"], "Totals");
    assert_eq!(
        states["Totals"]["Parameters"]["Payload"],
        json!({"time.$": "$.time", "totals.$": "$.shards"})
    );
    // The machine's role invokes the worker and nothing else.
    assert_eq!(
        t.role_statements(&machine),
        vec![json!({"Effect": "Allow", "Action": "lambda:InvokeFunction",
            "Resource": "<ExpireWindowsFunction.Arn>"})]
    );
    // Runs that fail and shards or customers skipped alarm.
    let failed_runs = t.alarms_on("AWS/States", "ExecutionsFailed");
    assert!(failed_runs
        .iter()
        .any(|a| a["Dimensions"][0]["Value"] == t.reference("ExpiryStateMachine").unwrap()));
    assert_eq!(t.alarms_on("TierEngine", "JobShardsFailed").len(), 1);
    assert_eq!(t.alarms_on("TierEngine", "JobCustomersFailed").len(), 1);
}

#[test]
fn each_new_reevaluation_job_starts_a_run_that_steps_the_worker_until_done() {
    let t = default_template();
    let pipe = t
        .eval(&t.resource("ReevaluationPipe")["Properties"])
        .unwrap();
    assert_eq!(pipe["Source"], "<Table.StreamArn>");
    assert_eq!(
        pipe["Target"],
        t.reference("ReevaluationStateMachine").unwrap()
    );
    let pattern: Value = serde_json::from_str(
        pipe["SourceParameters"]["FilterCriteria"]["Filters"][0]["Pattern"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        pattern,
        json!({"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "JOB#"}]}}}})
    );
    assert!(tier_store::job_sk("x").starts_with("JOB#"));
    let input: Value = serde_json::from_str(
        &pipe["TargetParameters"]["InputTemplate"]
            .as_str()
            .unwrap()
            .replace("<$.dynamodb.NewImage.", "@")
            .replace(".S>", ""),
    )
    .unwrap();
    assert_eq!(input, json!({"programId": "@programId", "jobId": "@jobId"}));
    let machine = t
        .eval(&t.resource("ReevaluationStateMachine")["Properties"])
        .unwrap();
    assert_eq!(
        machine["DefinitionSubstitutions"]["Worker"],
        "<ExpireWindowsFunction.Arn>"
    );
    // Its role invokes the worker, nothing else.
    assert_eq!(
        t.role_statements(&machine),
        vec![json!({"Effect": "Allow", "Action": "lambda:InvokeFunction",
            "Resource": "<ExpireWindowsFunction.Arn>"})]
    );
    let definition: Value =
        serde_json::from_str(machine["DefinitionString"].as_str().unwrap()).unwrap();
    let states = &definition["States"];
    let step = &states["Step"];
    assert_eq!(step["Parameters"]["FunctionName"], "${Worker}");
    assert_eq!(
        step["Parameters"]["Payload"],
        json!({"reevaluate": {"programId.$": "$.programId", "jobId.$": "$.jobId"}})
    );
    // The step's answer and a failure go under keys of their own, so the
    // run's programId and jobId stay as it began.
    assert_eq!(step["ResultPath"], "$.step");
    assert_eq!(
        states["More"]["Choices"][0],
        json!({"Variable": "$.step.more", "BooleanEquals": true, "Next": "Step"})
    );
    // A step that fails after its retries is caught, and the run waits 10
    // minutes and steps again, at most 36 times, counted with MathAdd.
    assert_eq!(
        step["Catch"],
        json!([
            {"ErrorEquals": ["Refused"], "ResultPath": "$.error", "Next": "Refused"},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MayRestart"}
        ])
    );
    assert_eq!(
        step["Retry"][0],
        json!({"ErrorEquals": ["Refused"], "MaxAttempts": 0})
    );
    assert_eq!(states["Refused"]["Type"], "Fail");
    assert_eq!(
        states["MayRestart"]["Choices"],
        json!([{"Variable": "$.restarts", "NumericLessThan": 36, "Next": "Pause"}])
    );
    assert_eq!(states["MayRestart"]["Default"], "GaveUp");
    assert_eq!(states["Pause"]["Seconds"], 600);
    assert_eq!(
        states["Restart"]["Parameters"]["restarts.$"],
        "States.MathAdd($.restarts, 1)"
    );
    assert_eq!(states["GaveUp"]["Type"], "Fail");
    // The same, run: a worker that answers `more` twice and then is done.
    let input = json!({"programId": "p", "jobId": "j"});
    let payload = json!({"reevaluate": {"programId": "p", "jobId": "j"}});
    let mut answers = [true, true, false].into_iter();
    let run = run_machine(&definition, input.clone(), &mut |p: &Value| {
        assert_eq!(p, &payload);
        Ok(json!({"programId": "p", "jobId": "j", "more": answers.next().unwrap()}))
    });
    assert_eq!((run.end.as_str(), run.calls, run.waited), ("Done", 3, 0));
    // A worker down for a whole round of retries (7 calls) and then back:
    // one restart, 10 minutes later, with the same programId and jobId.
    let mut calls = 0;
    let run = run_machine(&definition, input.clone(), &mut |p: &Value| {
        assert_eq!(p, &payload);
        calls += 1;
        if calls <= 7 {
            Err("Lambda.Unknown".into())
        } else {
            Ok(json!({"programId": "p", "jobId": "j", "more": calls < 9}))
        }
    });
    assert_eq!((run.end.as_str(), run.calls, run.waited), ("Done", 9, 600));
    assert_eq!(run.output["restarts"], 1);
    // A worker that never comes back: 36 restarts, then the run fails
    // (the alarm below fires), well inside the 25,000 history events a
    // run may hold, leaving more than 3,000 steps to the job.
    let run = run_machine(&definition, input, &mut |p: &Value| {
        assert_eq!(p, &payload);
        Err("Lambda.Unknown".into())
    });
    assert_eq!(run.end, "GaveUp");
    assert_eq!(run.calls, 37 * 7);
    assert_eq!(run.waited, 36 * 600);
    assert_eq!(run.output["restarts"], 36);
    assert_eq!(run.output["programId"], "p");
    assert_eq!(run.output["jobId"], "j");
    assert!(
        run.events + 3_000 * STEP_EVENTS < 25_000,
        "{} events",
        run.events
    );
    // A step the worker refuses (the errorType `lambda::REFUSED`: a job
    // that does not exist can never be stepped) ends the run at its first
    // call, with no retry and no restart.
    let run = run_machine(
        &definition,
        json!({"programId": "p", "jobId": "j"}),
        &mut |_| Err(tier_service::lambda::REFUSED.into()),
    );
    assert_eq!((run.end.as_str(), run.calls, run.waited), ("Refused", 1, 0));
    let role = t
        .eval(&t.resource("ReevaluationPipeRole")["Properties"])
        .unwrap();
    let granted: BTreeSet<String> = role["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|st| list(&st["Action"]))
        .collect();
    assert!(granted.contains("states:StartExecution"), "{granted:?}");
    let alarm: Vec<Value> = t
        .alarms_on("AWS/States", "ExecutionsFailed")
        .into_iter()
        .filter(|a| a["Dimensions"][0]["Value"] == t.reference("ReevaluationStateMachine").unwrap())
        .collect();
    assert_eq!(alarm.len(), 1);
    // It tells the operator how to go on.
    let description = alarm[0]["AlarmDescription"].as_str().unwrap();
    assert!(
        description.contains("36 restarts") && description.contains("start-execution"),
        "{description}"
    );
}

/// Whether an EventBridge (Pipes) filter pattern matches an event, for the
/// pattern forms the pipes use: lists of values, `prefix` and `exists`.
fn pattern_matches(pattern: &Value, event: &Value) -> bool {
    pattern.as_object().unwrap().iter().all(|(key, want)| {
        let got = event.get(key);
        match want {
            Value::Object(_) => got.is_some_and(|g| pattern_matches(want, g)),
            Value::Array(options) => options.iter().any(|o| match o {
                Value::Object(m) if m.contains_key("prefix") => got
                    .and_then(Value::as_str)
                    .is_some_and(|g| g.starts_with(m["prefix"].as_str().unwrap())),
                Value::Object(m) if m.contains_key("exists") => {
                    got.is_some() == m["exists"].as_bool().unwrap()
                }
                Value::Object(m) => panic!("a pattern form this test does not read: {m:?}"),
                value => got == Some(value),
            }),
            other => panic!("a pattern value this test does not read: {other}"),
        }
    })
}

/// A stream record of an item written with these string attributes.
fn stream_record(event_name: &str, sk: &str, image: &[(&str, &str)]) -> Value {
    let mut new_image = json!({"pk": {"S": "PROGRAM#p"}, "sk": {"S": sk}});
    for (name, value) in image {
        new_image[*name] = json!({"S": value});
    }
    json!({"eventName": event_name, "dynamodb": {
        "Keys": {"pk": {"S": "PROGRAM#p"}, "sk": {"S": sk}},
        "NewImage": new_image}})
}

fn pipe_pattern(t: &Template, pipe: &str) -> Value {
    let pipe = t.eval(&t.resource(pipe)["Properties"]).unwrap();
    serde_json::from_str(
        pipe["SourceParameters"]["FilterCriteria"]["Filters"][0]["Pattern"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn each_new_simulation_starts_a_run_that_steps_its_worker_until_done() {
    let t = default_template();
    let pipe = t.eval(&t.resource("SimulationPipe")["Properties"]).unwrap();
    assert_eq!(pipe["Source"], "<Table.StreamArn>");
    assert_eq!(
        pipe["Target"],
        t.reference("SimulationStateMachine").unwrap()
    );
    assert_eq!(
        pipe["SourceParameters"]["DynamoDBStreamParameters"]["StartingPosition"],
        "TRIM_HORIZON"
    );
    // The simulation item as the store writes it starts a run; its parts,
    // the program's pointer, a re-evaluation job and later changes do not;
    // and the re-evaluation pipe does not take simulations.
    let id = "0123456789abcdef0123456789abcdef";
    let job = tier_store::simulation_sk(id);
    let inserted = stream_record(
        "INSERT",
        &job,
        &[
            ("programId", "p"),
            ("simulationId", id),
            ("status", "queued"),
        ],
    );
    let part = stream_record(
        "INSERT",
        &tier_store::simulation_part_sk(id, 0),
        &[("status", "x")],
    );
    let pointer = stream_record("INSERT", tier_store::SIMULATION_POINTER, &[("active", id)]);
    let reevaluation = stream_record(
        "INSERT",
        &tier_store::job_sk(id),
        &[("programId", "p"), ("jobId", id)],
    );
    let modified = stream_record("MODIFY", &job, &[("programId", "p"), ("simulationId", id)]);
    let simulations = pipe_pattern(t, "SimulationPipe");
    let reevaluations = pipe_pattern(t, "ReevaluationPipe");
    assert!(pattern_matches(&simulations, &inserted), "{simulations}");
    for other in [&part, &pointer, &reevaluation, &modified] {
        assert!(!pattern_matches(&simulations, other), "{other}");
    }
    assert!(pattern_matches(&reevaluations, &reevaluation));
    for simulation in [&inserted, &part, &pointer] {
        assert!(!pattern_matches(&reevaluations, simulation), "{simulation}");
    }
    let input: Value = serde_json::from_str(
        &pipe["TargetParameters"]["InputTemplate"]
            .as_str()
            .unwrap()
            .replace("<$.dynamodb.NewImage.", "@")
            .replace(".S>", ""),
    )
    .unwrap();
    assert_eq!(
        input,
        json!({"programId": "@programId", "simulationId": "@simulationId"})
    );

    let machine = t
        .eval(&t.resource("SimulationStateMachine")["Properties"])
        .unwrap();
    assert_eq!(
        machine["DefinitionSubstitutions"]["Worker"],
        "<SimulationWorkerFunction.Arn>"
    );
    // Its role invokes the worker, nothing else.
    assert_eq!(
        t.role_statements(&machine),
        vec![json!({"Effect": "Allow", "Action": "lambda:InvokeFunction",
            "Resource": "<SimulationWorkerFunction.Arn>"})]
    );
    let definition: Value =
        serde_json::from_str(machine["DefinitionString"].as_str().unwrap()).unwrap();
    let step = &definition["States"]["Step"];
    assert_eq!(
        step["Parameters"]["Payload"],
        json!({"simulate": {"programId.$": "$.programId", "simulationId.$": "$.simulationId"}})
    );
    assert_eq!(step["ResultPath"], "$.step");
    let input = json!({"programId": "p", "simulationId": id});
    let payload = json!({"simulate": {"programId": "p", "simulationId": id}});
    // Steps while the worker answers `more`.
    let mut answers = [true, true, false].into_iter();
    let run = run_machine(&definition, input.clone(), &mut |p: &Value| {
        assert_eq!(p, &payload);
        Ok(json!({"programId": "p", "simulationId": id, "more": answers.next().unwrap()}))
    });
    assert_eq!((run.end.as_str(), run.calls, run.waited), ("Done", 3, 0));
    // A job that cannot finish is stored failed by the worker, which
    // answers more: false: the run ends at once.
    let run = run_machine(&definition, input.clone(), &mut |_| {
        Ok(json!({"programId": "p", "simulationId": id, "more": false}))
    });
    assert_eq!((run.end.as_str(), run.calls), ("Done", 1));
    // The worker down for a round of retries, then back: one restart.
    let mut calls = 0;
    let run = run_machine(&definition, input.clone(), &mut |_| {
        calls += 1;
        if calls <= 7 {
            Err("StepFailed".into())
        } else {
            Ok(json!({"programId": "p", "simulationId": id, "more": false}))
        }
    });
    assert_eq!((run.end.as_str(), run.calls, run.waited), ("Done", 8, 600));
    assert_eq!(run.output["simulationId"], id);
    // Never back: 36 restarts, then the run fails (the alarm fires).
    let run = run_machine(
        &definition,
        input.clone(),
        &mut |_| Err("StepFailed".into()),
    );
    assert_eq!(
        (run.end.as_str(), run.calls, run.waited),
        ("GaveUp", 37 * 7, 36 * 600)
    );
    assert!(run.events < 25_000, "{} events", run.events);
    // Refused (an unknown simulation): ends at the first call.
    let run = run_machine(&definition, input, &mut |_| {
        Err(tier_service::lambda::REFUSED.into())
    });
    assert_eq!((run.end.as_str(), run.calls, run.waited), ("Refused", 1, 0));

    // The pipe's role reads the stream and starts this machine only.
    let role = t
        .eval(&t.resource("SimulationPipeRole")["Properties"])
        .unwrap();
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
        json!({"Service": "pipes.amazonaws.com"})
    );
    let statements = role["Policies"][0]["PolicyDocument"]["Statement"].clone();
    assert_eq!(
        statements,
        json!([
            {"Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
             "Resource": "<Table.StreamArn>"},
            {"Effect": "Allow", "Action": "states:StartExecution",
             "Resource": t.reference("SimulationStateMachine").unwrap()}
        ])
    );
    // The worker has the time for its 60 s steps, and a whole vCPU.
    let worker = t
        .eval(&t.resource("SimulationWorkerFunction")["Properties"])
        .unwrap();
    let timeout = worker["Timeout"].as_u64().unwrap();
    assert!(
        timeout >= 2 * tier_service::simulations::STEP_BUDGET.as_secs(),
        "a step works at most half of what is left: {timeout}"
    );
    assert!(worker["MemorySize"].as_u64().unwrap() >= 1769);
    let alarm: Vec<Value> = t
        .alarms_on("AWS/States", "ExecutionsFailed")
        .into_iter()
        .filter(|a| a["Dimensions"][0]["Value"] == t.reference("SimulationStateMachine").unwrap())
        .collect();
    assert_eq!(alarm.len(), 1);
    let description = alarm[0]["AlarmDescription"].as_str().unwrap();
    assert!(
        description.contains("36 restarts") && description.contains("start-execution"),
        "{description}"
    );
}

/// History events a successful step costs (Task state entered, scheduled,
/// started, succeeded, exited; the Choice entered and exited).
const STEP_EVENTS: usize = 7;

/// How a run of a state machine definition ended.
struct Run {
    end: String,
    output: Value,
    /// Worker calls, retries included.
    calls: usize,
    /// Seconds spent in Wait states.
    waited: u64,
    /// The run's history events, counted as Step Functions writes them:
    /// every state entered and exited, every task attempt scheduled,
    /// started and ended, the run started and ended.
    events: usize,
}

/// The value at a JSONPath of the form `$` or `$.a.b`.
fn at_path<'a>(v: &'a Value, path: &str) -> &'a Value {
    let rest = path.strip_prefix('$').expect("a path from $");
    rest.split('.')
        .filter(|k| !k.is_empty())
        .fold(v, |v, k| &v[k])
}

fn set_path(v: &mut Value, path: &str, value: Value) {
    let keys: Vec<&str> = path
        .strip_prefix("$.")
        .expect("a ResultPath under $")
        .split('.')
        .collect();
    let mut target = v;
    for k in &keys[..keys.len() - 1] {
        target = &mut target[*k];
    }
    target[*keys.last().unwrap()] = value;
}

/// Parameters, ResultSelector: `key.$` from a path or States.MathAdd.
fn parameters(template: &Value, input: &Value) -> Value {
    match template {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| match k.strip_suffix(".$") {
                    Some(name) => {
                        let expr = v.as_str().unwrap();
                        let value = if let Some(args) = expr
                            .strip_prefix("States.MathAdd(")
                            .and_then(|a| a.strip_suffix(')'))
                        {
                            let (a, b) = args.split_once(", ").unwrap();
                            let a = at_path(input, a).as_i64().unwrap();
                            json!(a + b.parse::<i64>().unwrap())
                        } else {
                            at_path(input, expr).clone()
                        };
                        (name.to_owned(), value)
                    }
                    None => (k.clone(), parameters(v, input)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Runs a definition of Pass, Task (the worker, with States.ALL retries and
/// catches), Choice (BooleanEquals, NumericLessThan), Wait, Succeed and
/// Fail states: the subset the re-evaluation machine uses, read as Step
/// Functions reads it. Anything else fails the test.
/// Whether a retrier's or catcher's ErrorEquals names the error, as Step
/// Functions reads it (`States.TaskFailed` is any task error but a timeout).
fn names_error(names: &Value, error: &str) -> bool {
    names.as_array().unwrap().iter().any(|name| {
        name == "States.ALL"
            || name == error
            || (name == "States.TaskFailed" && error != "States.Timeout")
    })
}

fn run_machine(
    definition: &Value,
    input: Value,
    worker: &mut dyn FnMut(&Value) -> Result<Value, String>,
) -> Run {
    let mut run = Run {
        end: String::new(),
        output: input,
        calls: 0,
        waited: 0,
        events: 2,
    };
    let mut name = definition["StartAt"].as_str().unwrap().to_owned();
    for _ in 0..100_000 {
        let state = &definition["States"][&name];
        run.events += 2;
        let next = match state["Type"].as_str().unwrap() {
            "Pass" => {
                run.output = parameters(&state["Parameters"], &run.output);
                state["Next"].clone()
            }
            "Task" => {
                let payload = parameters(&state["Parameters"], &run.output)["Payload"].clone();
                // Step Functions takes the first retrier whose ErrorEquals
                // names the error, each with its own count of attempts.
                let retriers = state["Retry"].as_array().unwrap();
                let mut retried = vec![0; retriers.len()];
                let answer = loop {
                    run.calls += 1;
                    run.events += 3;
                    let error = match worker(&payload) {
                        Ok(reply) => break Ok(reply),
                        Err(error) => error,
                    };
                    let retrier = retriers
                        .iter()
                        .position(|r| names_error(&r["ErrorEquals"], &error));
                    match retrier {
                        Some(i) if retried[i] < retriers[i]["MaxAttempts"].as_u64().unwrap() => {
                            retried[i] += 1;
                        }
                        _ => break Err(error),
                    }
                };
                match answer {
                    Ok(reply) => {
                        let result =
                            parameters(&state["ResultSelector"], &json!({"Payload": reply}));
                        set_path(
                            &mut run.output,
                            state["ResultPath"].as_str().unwrap(),
                            result,
                        );
                        state["Next"].clone()
                    }
                    Err(error) => {
                        let catch = state["Catch"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|c| names_error(&c["ErrorEquals"], &error))
                            .expect("every error is caught");
                        let caught = json!({"Error": error, "Cause": "the worker failed"});
                        set_path(
                            &mut run.output,
                            catch["ResultPath"].as_str().unwrap(),
                            caught,
                        );
                        catch["Next"].clone()
                    }
                }
            }
            "Choice" => {
                let chosen = state["Choices"].as_array().unwrap().iter().find(|c| {
                    let value = at_path(&run.output, c["Variable"].as_str().unwrap());
                    if let Some(b) = c.get("BooleanEquals") {
                        value == b
                    } else if let Some(n) = c.get("NumericLessThan") {
                        value.as_f64().unwrap() < n.as_f64().unwrap()
                    } else {
                        panic!("a choice rule this runner does not know: {c}")
                    }
                });
                chosen.map_or(state["Default"].clone(), |c| c["Next"].clone())
            }
            "Wait" => {
                run.waited += state["Seconds"].as_u64().unwrap();
                state["Next"].clone()
            }
            "Succeed" | "Fail" => {
                run.end = name;
                return run;
            }
            other => panic!("a state type this runner does not know: {other}"),
        };
        name = next.as_str().unwrap().to_owned();
    }
    panic!("the run did not end")
}

/// The transformed template with each state machine's definition as the
/// object it is: the transform writes it as a `Fn::Join` of lines, which
/// cfn-lint cannot read, so its state machine rule (E3601) would skip it.
fn with_definitions_as_objects(mut doc: Value) -> Value {
    for (id, resource) in doc["Resources"].as_object_mut().unwrap() {
        if resource["Type"] != "AWS::StepFunctions::StateMachine" {
            continue;
        }
        let properties = resource["Properties"].as_object_mut().unwrap();
        let joined = properties.remove("DefinitionString").unwrap();
        let lines = &joined["Fn::Join"];
        assert_eq!(lines[0], "\n", "{id}: the transform joins lines");
        let lines: Vec<&str> = lines[1]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        let definition: Value = serde_json::from_str(&lines.join("\n")).unwrap();
        properties.insert("Definition".into(), definition);
    }
    doc
}

/// The cfn-lint that scripts/lambda-tools.sh pins: another version may
/// know other rules, so its silence would mean something else.
const CFN_LINT: &str = "cfn-lint 1.58.0";

/// AWS's CloudFormation linter on `doc`, with every rule on (an empty
/// config file: no `.cfnlintrc` of the machine's may turn rules off): its
/// findings, one per line, empty when it finds nothing.
fn cfn_lint(doc: &Value, name: &str) -> String {
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new("cfn-lint")
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run cfn-lint ({e}): run `{INSTALL}` first"))
    };
    let version = run(&["--version".as_ref()]);
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        CFN_LINT,
        "run `{INSTALL}` first"
    );
    let dir = std::env::temp_dir().join(format!("tier-template-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (template, config) = (dir.join("template.json"), dir.join("cfnlintrc"));
    std::fs::write(&template, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    std::fs::write(&config, "{}\n").unwrap();
    let out = run(&[
        "--config-file".as_ref(),
        config.as_os_str(),
        "--format".as_ref(),
        "parseable".as_ref(),
        template.as_os_str(),
    ]);
    std::fs::remove_dir_all(&dir).ok();
    let found = String::from_utf8_lossy(&out.stdout).into_owned();
    // Its exit code ORs 2 (errors), 4 (warnings) and 8 (notes) found; bit
    // 0 or anything beyond is cfn-lint itself failing, which would leave
    // the stack unread.
    let code = out.status.code().unwrap_or(1);
    assert!(
        code & 1 == 0 && code < 16,
        "cfn-lint failed ({code}): {}\n{found}",
        String::from_utf8_lossy(&out.stderr)
    );
    found
}

/// What AWS would deploy, as far as its own linter can tell offline: every
/// resource's properties against CloudFormation's schemas, the IAM
/// policies, and each Step Functions definition against the States
/// Language schema, with the default parameters and with every option on.
#[test]
fn aws_cfn_lint_finds_nothing_in_the_stack_nor_in_its_state_machines() {
    let all_on = [
        "AlarmEmail=ops@example.com",
        "ManageApiGatewayAccountRole=true",
        "ProgramIds=brand-a,brand-b",
    ];
    for (name, params) in [("default", &[][..]), ("all-on", &all_on[..])] {
        let doc = with_definitions_as_objects(transformed(params));
        assert_eq!(cfn_lint(&doc, name), "", "cfn-lint on the {name} stack");
    }
    // The definitions are read: a state of a type the language lacks is
    // reported.
    let mut doc = with_definitions_as_objects(transformed(&[]));
    let machine = doc["Resources"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .find(|r| r["Type"] == "AWS::StepFunctions::StateMachine")
        .unwrap();
    let definition = &mut machine["Properties"]["Definition"];
    let start = definition["StartAt"].as_str().unwrap().to_owned();
    definition["States"][&start]["Type"] = json!("Passs");
    let found = cfn_lint(&doc, "broken");
    assert!(
        found.contains("E3601") && found.contains("Passs"),
        "{found}"
    );
}
