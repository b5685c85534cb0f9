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
