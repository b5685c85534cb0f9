//! A headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`, which scripts/test.sh installs), with the page's
//! console captured so a test can assert that nothing was logged as an error.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use thirtyfour::prelude::*;
use thirtyfour::{BrowserLogEntry, ChromiumLikeCapabilities, LoggingPrefsLogLevel};

pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Chromedriver on a free port, once it answers. A free port is free only
/// until it is released to us: if another process takes it first,
/// chromedriver exits at start, and it is started again on another port.
async fn start_chromedriver() -> (Child, String) {
    for _ in 0..3 {
        let port = free_port();
        let mut chromedriver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs: scripts/test.sh installs Debian's chromium-driver");
        let url = format!("http://127.0.0.1:{port}");
        let ready = Instant::now();
        loop {
            if reqwest::get(format!("{url}/status")).await.is_ok() {
                return (chromedriver, url);
            }
            if chromedriver
                .try_wait()
                .expect("chromedriver's status")
                .is_some()
            {
                break;
            }
            assert!(
                ready.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("chromedriver exited at start on three ports");
}

impl Browser {
    /// Starts chromedriver and a headless Chromium `width` x `height`.
    pub async fn start(width: u32, height: u32) -> Browser {
        let (chromedriver, url) = start_chromedriver().await;
        let mut caps = DesiredCapabilities::chrome();
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--hide-scrollbars",
            &format!("--window-size={width},{height}"),
        ] {
            caps.add_arg(arg).unwrap();
        }
        caps.set_browser_log_level(LoggingPrefsLogLevel::All)
            .unwrap();
        let driver = WebDriver::new(&url, caps)
            .await
            .expect("a Chromium session");
        Browser {
            driver,
            chromedriver,
        }
    }

    /// Every console entry logged as an error (or an uncaught exception,
    /// or a failed load) since the last call.
    pub async fn console_errors(&self) -> Vec<BrowserLogEntry> {
        self.driver
            .browser_log()
            .await
            .expect("the browser log")
            .into_iter()
            .filter(|e| e.level.eq_ignore_ascii_case("SEVERE"))
            .collect()
    }

    /// Waits until `css` matches an element whose text contains `text`.
    pub async fn wait_for_text(&self, css: &str, text: &str) -> WebElement {
        let started = Instant::now();
        loop {
            for element in self.driver.find_all(By::Css(css)).await.unwrap_or_default() {
                if element.text().await.unwrap_or_default().contains(text) {
                    return element;
                }
            }
            if started.elapsed() > Duration::from_secs(20) {
                let page = match self.driver.find(By::Tag("body")).await {
                    Ok(body) => body.text().await.unwrap_or_default(),
                    Err(e) => e.to_string(),
                };
                let page: String = page.chars().take(2000).collect();
                panic!("no `{css}` with text `{text}` within 20 s; the page reads:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the page as it is now, as `name`.png in
    /// `$CONSOLE_SCREENSHOTS` (the README's pictures are refreshed with
    /// `CONSOLE_SCREENSHOTS=$PWD/docs/console cargo test -p e2e --test console`),
    /// else in the system's temporary directory.
    pub async fn screenshot(&self, name: &str) {
        let dir = std::env::var_os("CONSOLE_SCREENSHOTS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("console-screenshots"));
        std::fs::create_dir_all(&dir).unwrap();
        self.driver
            .screenshot(&dir.join(format!("{name}.png")))
            .await
            .expect("a screenshot");
    }

    pub async fn quit(mut self) {
        let _ = self.driver.clone().quit().await;
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}
