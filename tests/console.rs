//! The console and the API reference, in a real browser (headless
//! Chromium over WebDriver): pages render, nothing is logged as an error.

use e2e::browser::Browser;
use e2e::{Api, Engine};
use thirtyfour::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_reference_renders_offline_without_console_errors() {
    let api = Api::start(Engine::Embedded).await;
    let browser = Browser::start(1280, 900).await;
    browser
        .driver
        .goto(format!("{}/docs", api.base))
        .await
        .unwrap();
    browser.wait_for_text("h1", "Loyalty-tier engine").await;
    browser
        .wait_for_text("h2", "Why the customer is or is not in a tier")
        .await;
    browser.screenshot("docs").await;
    let errors = browser.console_errors().await;
    browser.quit().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

fn gold_config(custom: &str, gold: &str) -> serde_json::Value {
    serde_json::json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "pointsExpiry": {"months": 12},
        "trackers": [{"id": "visits", "measure": "visits", "period": {"days": 365}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Gold", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": gold},
                {"id": "B", "kind": "tracker", "tracker": "visits", "min": 3}],
                "condition": {"custom": custom}, "upgradeType": "lazy"}},
            {"name": "Diamond", "earnRate": "3", "upgrade": {"criteria": [
                {"id": "D", "kind": "lifetimePurchases", "min": "5000"}],
                "condition": "all", "upgradeType": "eager"}}]
    })
}

/// Replaces the editor's text as a paste would, firing `input`.
async fn set_editor(browser: &Browser, text: &str) {
    browser
        .driver
        .execute(
            "const e = document.getElementById('config-editor'); e.value = arguments[0]; \
             e.dispatchEvent(new Event('input'));",
            vec![serde_json::Value::String(text.to_owned())],
        )
        .await
        .unwrap();
}

async fn goto(browser: &Browser, url: String) {
    browser.driver.goto(url).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brand_runs_its_program_from_the_console() {
    let api = Api::start(Engine::Embedded).await;
    let browser = Browser::start(1280, 1000).await;
    let console = format!("{}/console", api.base);

    // A new program: the editor starts from a template.
    goto(&browser, format!("{console}#/programs/shop")).await;
    browser.wait_for_text("h1", "Program shop").await;
    browser.wait_for_text(".valid", "Valid configuration").await;

    // A broken expression: the problem is shown at its character.
    let broken = gold_config("A AND & B", "1000");
    set_editor(&browser, &serde_json::to_string_pretty(&broken).unwrap()).await;
    let problem = browser.wait_for_text("#problems li", "position 7").await;
    assert_eq!(
        problem.attr("data-path").await.unwrap().as_deref(),
        Some("/tiers/1/upgrade/condition")
    );
    let mark = problem.find(By::Css(".caret mark")).await.unwrap();
    assert_eq!(mark.text().await.unwrap(), "&");
    browser.screenshot("program-invalid").await;

    // Typed fix, then publish.
    let editor = browser.driver.find(By::Id("config-editor")).await.unwrap();
    let fixed = serde_json::to_string_pretty(&gold_config("A AND B", "1000")).unwrap();
    set_editor(&browser, &fixed.replace("A AND B", "A AND ")).await;
    editor.send_keys("").await.unwrap();
    browser
        .driver
        .execute(
            "const e = document.getElementById('config-editor'); \
             const at = e.value.indexOf('A AND ') + 6; e.focus(); e.setSelectionRange(at, at);",
            vec![],
        )
        .await
        .unwrap();
    editor.send_keys("B").await.unwrap();
    browser.wait_for_text(".valid", "Valid configuration").await;
    browser
        .driver
        .find(By::Id("publish"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for_text("#publish-result", "Published version 1")
        .await;
    browser.wait_for_text("h1", "version 1").await;
    browser
        .wait_for_text("#ladder [data-tier=Gold]", "A: lifetime purchases")
        .await;
    let stored = api.get("/programs/shop/config").await;
    assert_eq!(
        stored.body["config"]["tiers"][1]["upgrade"]["condition"]["custom"],
        "A AND B"
    );

    // Orders through the API; the customer page follows.
    api.order("shop", "ann", "o1", "2026-03-01T10:00:00Z", "400")
        .await;
    api.order("shop", "ann", "o2", "2026-03-02T10:00:00Z", "300")
        .await;
    goto(&browser, format!("{console}#/programs/shop/customers/ann")).await;
    browser.wait_for_text("#tier", "Member").await;
    let bar = browser
        .driver
        .find(By::Css(
            "[data-tier=Gold] [data-criterion=A] [role=progressbar]",
        ))
        .await
        .unwrap();
    assert_eq!(
        bar.attr("aria-valuenow").await.unwrap().as_deref(),
        Some("70")
    );
    browser
        .wait_for_text("[data-tier=Gold] [data-criterion=A]", "300 more")
        .await;
    browser
        .wait_for_text("#timeline", "No tier changes yet")
        .await;

    api.order("shop", "ann", "o3", "2026-03-03T10:00:00Z", "350")
        .await;
    browser.driver.refresh().await.unwrap();
    browser.wait_for_text("#tier", "Gold").await;
    browser
        .wait_for_text("#timeline", "Member \u{2192} Gold")
        .await;
    browser.wait_for_text("#timeline", "order o3").await;
    browser
        .wait_for_text("#orders", "Member \u{2192} Gold")
        .await;
    browser
        .wait_for_text("#expiring", "expire on 2027-03-01")
        .await;
    browser
        .wait_for_text("[data-tier=Diamond] [data-criterion=D]", "1050 of 5000")
        .await;
    browser.screenshot("customer").await;

    // Why not Diamond: the condition with its truth, then an order's need.
    browser
        .driver
        .find(By::LinkText("Why not Diamond?"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for_text("#evaluation", "false").await;
    browser
        .wait_for_text("#verdict", "Does not qualify for Diamond")
        .await;
    browser
        .wait_for_text("#criteria [data-criterion=D]", "1050")
        .await;
    browser.screenshot("why-not").await;
    goto(
        &browser,
        format!("{console}#/programs/shop/customers/ann/why?order=o2&tier=Gold"),
    )
    .await;
    browser
        .wait_for_text("#outcome", "No amount could have reached Gold")
        .await;
    browser
        .wait_for_text("#reasons", "counts visits (2 of 3")
        .await;
    goto(
        &browser,
        format!("{console}#/programs/shop/customers/ann/why?order=o2&tier=Diamond"),
    )
    .await;
    browser
        .wait_for_text("#outcome", "An order of 4600 (4300 more than 300)")
        .await;

    // A second version: the versions section shows what changed.
    api.program("shop", &gold_config("A AND B", "1500")).await;
    goto(&browser, format!("{console}#/programs/shop")).await;
    browser
        .wait_for_text(
            "#diff",
            "~ /tiers/1/upgrade/criteria/0/min: \"1000\" \u{2192} \"1500\"",
        )
        .await;
    browser.screenshot("program").await;

    let errors = browser.console_errors().await;
    browser.quit().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

/// On a phone's width every page fits without sideways scrolling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_fits_a_phone() {
    let api = Api::start(Engine::Embedded).await;
    api.program("shop", &gold_config("A AND B", "1000")).await;
    api.order("shop", "ann", "o1", "2026-03-01T10:00:00Z", "400")
        .await;
    let browser = Browser::start(390, 844).await;
    let console = format!("{}/console", api.base);
    for (page, ready) in [
        ("#/programs/shop", "#ladder"),
        ("#/programs/shop/customers/ann", "#progress"),
        ("#/programs/shop/customers/ann/why?tier=Gold", "#evaluation"),
    ] {
        goto(&browser, format!("{console}{page}")).await;
        browser.wait_for_text(ready, "").await;
        let overflow = browser
            .driver
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                vec![],
            )
            .await
            .unwrap();
        let overflow: i64 = overflow.convert().unwrap();
        assert!(
            overflow <= 0,
            "{page} is {overflow} px wider than the phone"
        );
    }
    goto(&browser, format!("{console}#/programs/shop/customers/ann")).await;
    browser.wait_for_text("#progress", "").await;
    browser.screenshot("customer-phone").await;
    let errors = browser.console_errors().await;
    browser.quit().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

/// What the page's chart `id` draws: (side, label, value) of every bar.
async fn bars(browser: &Browser, id: &str) -> Vec<(String, String, u64)> {
    let found = browser
        .driver
        .execute(
            "return Array.from(document.querySelectorAll('#' + arguments[0] + ' rect[data-side]'))\
             .map((r) => [r.dataset.side, r.dataset.label, Number(r.dataset.value)]);",
            vec![serde_json::Value::String(id.to_owned())],
        )
        .await
        .unwrap();
    found.convert().unwrap()
}

/// The chart's bars as the report's figures say they must be: each label
/// of `labels`, current then draft, zero where the report has none.
fn expected_bars(
    labels: &[String],
    current: &serde_json::Value,
    draft: &serde_json::Value,
) -> Vec<(String, String, u64)> {
    labels
        .iter()
        .flat_map(|label| {
            [("current", current), ("draft", draft)].map(|(side, figures)| {
                let value = figures[label.as_str()].as_u64().unwrap_or(0);
                (side.to_owned(), label.clone(), value)
            })
        })
        .collect()
}

/// A brand tries a lower Gold threshold on its own history from the
/// console: the draft in the editor is simulated, and the charts and tables
/// show exactly the report the API gives for the same draft.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_is_simulated_and_drawn_from_the_console() {
    let api = Api::start(Engine::Embedded).await;
    api.program("shop", &gold_config("A AND B", "1000")).await;
    let history = [
        ("ann", "2026-03-01T10:00:00Z", "400"),
        ("ann", "2026-04-01T10:00:00Z", "400"),
        ("ann", "2026-05-01T10:00:00Z", "400"),
        ("bob", "2026-03-05T10:00:00Z", "250"),
        ("bob", "2026-04-05T10:00:00Z", "250"),
        ("bob", "2026-06-05T10:00:00Z", "250"),
        ("cat", "2026-03-09T10:00:00Z", "600"),
        ("cat", "2026-03-10T10:00:00Z", "600"),
    ];
    for (i, (customer, at, amount)) in history.iter().enumerate() {
        api.order("shop", customer, &format!("o{i}"), at, amount)
            .await;
    }
    let draft = gold_config("A AND B", "500");

    let browser = Browser::start(1280, 1400).await;
    goto(&browser, format!("{}/console#/programs/shop", api.base)).await;
    browser.wait_for_text(".valid", "Valid configuration").await;
    set_editor(&browser, &serde_json::to_string_pretty(&draft).unwrap()).await;
    browser.wait_for_text(".valid", "Valid configuration").await;
    browser
        .driver
        .find(By::Id("simulate"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let summary = browser
        .wait_for_text("#whatif-summary", "unchanged under the draft")
        .await;

    // The same draft through the API, to the instant the console's run
    // told its balances at: the same report.
    let end = summary.attr("data-end").await.unwrap().expect("data-end");
    let posted = api
        .post(
            "/programs/shop/simulations",
            &serde_json::json!({"config": draft, "to": end}),
        )
        .await;
    assert_eq!(posted.status, 202, "{}", posted.body);
    let id = posted.body["simulationId"].as_str().unwrap().to_owned();
    let report = loop {
        let seen = api.get(&format!("/programs/shop/simulations/{id}")).await;
        if seen.body["status"] == "done" {
            break seen.body["report"].clone();
        }
        assert_ne!(seen.body["status"], "failed", "{}", seen.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        (&report["movers"]["higher"], &report["movers"]["unchanged"]),
        (&serde_json::json!(1), &serde_json::json!(2)),
        "bob reaches Gold at $750: {report}"
    );
    assert!(summary
        .text()
        .await
        .unwrap()
        .contains("3 customers, 8 events"));
    assert!(summary
        .text()
        .await
        .unwrap()
        .contains("1 higher, 0 lower, 2 unchanged"));

    let ladder: Vec<String> = ["Member", "Gold", "Diamond"].map(String::from).to_vec();
    assert_eq!(
        bars(&browser, "chart-tiers").await,
        expected_bars(
            &ladder,
            &report["current"]["tiers"],
            &report["draft"]["tiers"]
        )
    );
    let mut months: Vec<String> = report["current"]["upgradesPerMonth"]
        .as_object()
        .unwrap()
        .keys()
        .chain(
            report["draft"]["upgradesPerMonth"]
                .as_object()
                .unwrap()
                .keys(),
        )
        .cloned()
        .collect();
    months.sort();
    months.dedup();
    assert_eq!(months, ["2026-05", "2026-06"], "{report}");
    assert_eq!(
        bars(&browser, "chart-upgrades").await,
        expected_bars(
            &months,
            &report["current"]["upgradesPerMonth"],
            &report["draft"]["upgradesPerMonth"]
        )
    );
    let awarded = browser
        .wait_for_text("#whatif-points [data-row='Points awarded']", "")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        awarded,
        format!(
            "Points awarded {} {}",
            report["current"]["pointsAwarded"].as_str().unwrap(),
            report["draft"]["pointsAwarded"].as_str().unwrap()
        )
    );
    browser
        .wait_for_text("#whatif-movers [data-customer=bob]", "higher")
        .await;
    browser
        .driver
        .execute(
            "document.getElementById('whatif-h').scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
    browser.screenshot("whatif").await;

    // A draft the API refuses is shown as such, and nothing is simulated.
    set_editor(&browser, "{\"currency\": \"USD\"}").await;
    browser
        .driver
        .find(By::Id("simulate"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for_text("#whatif .error", "Not simulated")
        .await;

    let errors = browser.console_errors().await;
    browser.quit().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
}
