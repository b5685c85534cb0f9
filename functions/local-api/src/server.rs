//! The HTTP server loop: axum's `serve`, plus the limits a server facing any
//! local client needs. `axum::serve` sets no timer, so hyper's header read
//! timeout never runs: a client that sends half a request head, or opens
//! connections and sends nothing, holds them for ever, and about 20,000 of
//! them used up the process's file descriptors until nothing was accepted
//! (an adversarial review). Here:
//! - a head must arrive within [`HEADER_READ_TIMEOUT`] (an idle keep-alive
//!   connection waiting for its next request counts too);
//! - a write to the client may wait at most [`WRITE_TIMEOUT`], so a client
//!   that stops reading its answers does not keep its connection (a review
//!   of the first version held every slot that way);
//! - at most [`max_connections`] are served at once; more wait in the
//!   listen backlog instead of failing.

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// How long a request head (or the next one on a kept-alive connection)
/// may take to arrive.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one write to a client may wait for it to read.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Connections served at once: 1,024, far above a browser's six or the load
/// tests' 32 clients, but never more than half the descriptors the process
/// may open (256 by default on macOS), so the engine's files and the
/// accept loop always have some.
pub(crate) fn max_connections() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    let known = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    let half = if known {
        usize::try_from(limit.rlim_cur / 2).unwrap_or(usize::MAX)
    } else {
        128
    };
    half.clamp(16, 1024)
}

/// What one server allows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub header_read_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
            max_connections: max_connections(),
        }
    }
}

/// Serves `app` on `listener` until `stopped` turns true, then lets the
/// requests in flight finish.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    mut stopped: watch::Receiver<bool>,
    limits: Limits,
) -> std::io::Result<()> {
    let mut stop = std::pin::pin!(async move {
        let _ = stopped.wait_for(|s| *s).await;
    });
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = &mut stop => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of descriptors, or a connection reset before it was
                // taken: wait a little rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.write_timeout));
        let service = app
            .clone()
            .map_request(|request: Request<Incoming>| request.map(Body::new));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(
                TokioIo::new(Box::pin(stream)),
                TowerToHyperService::new(service),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A connection's own errors (a client gone, a head too slow)
            // end that connection only.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use std::time::Instant;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn started(limits: Limits) -> (std::net::SocketAddr, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = Router::new().route("/health", get(|| async { "ok" }));
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(serve(listener, app, stopped, limits));
        (address, stop)
    }

    async fn get_health(address: std::net::SocketAddr) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        reply
    }

    #[tokio::test]
    async fn a_head_that_never_ends_is_closed_after_the_timeout() {
        let limits = Limits {
            header_read_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let (address, _stop) = started(limits).await;
        let mut slow = TcpStream::connect(address).await.unwrap();
        slow.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "the server closed the connection");
        assert!(started.elapsed() >= Duration::from_millis(250));
        assert!(get_health(address).await.ends_with("ok"));
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_loses_its_connection_after_the_write_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let big = "x".repeat(8 << 20);
        let app = Router::new()
            .route("/big", get(move || async move { big.clone() }))
            .route("/health", get(|| async { "ok" }));
        let limits = Limits {
            write_timeout: Duration::from_millis(300),
            max_connections: 1,
            ..Limits::default()
        };
        let (_stop, stopped) = watch::channel(false);
        tokio::spawn(serve(listener, app, stopped, limits));
        // Asks for 8 MB and never reads: the server's writes stall.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stalled = socket.connect(address).await.unwrap();
        stalled
            .write_all(b"GET /big HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        // The only slot is freed once the stalled write times out.
        let reply = tokio::time::timeout(Duration::from_secs(10), get_health(address))
            .await
            .expect("the stalled client's slot was freed");
        assert!(reply.ends_with("ok"), "{reply}");
        drop(stalled);
    }

    #[test]
    fn at_most_half_the_descriptors_are_connections() {
        let n = max_connections();
        assert!((16..=1024).contains(&n), "{n}");
    }

    #[tokio::test]
    async fn connections_over_the_limit_wait_and_are_served_once_one_ends() {
        let limits = Limits {
            header_read_timeout: Duration::from_millis(500),
            max_connections: 2,
            ..Limits::default()
        };
        let (address, _stop) = started(limits).await;
        // Two idle connections hold both slots until their heads time out.
        let _a = TcpStream::connect(address).await.unwrap();
        let _b = TcpStream::connect(address).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let reply = tokio::time::timeout(Duration::from_secs(10), get_health(address))
            .await
            .expect("served once a slot is free");
        assert!(reply.ends_with("ok"), "{reply}");
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "it waited for a slot: {:?}",
            started.elapsed()
        );
    }
}
