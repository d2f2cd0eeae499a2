//! The standalone sandbox treated as a hostile user would: it does not spin or flood its log when
//! it runs out of file descriptors, it closes connections that send nothing, it caps
//! connections, it never logs a token however the query encodes it, and it refuses a malformed
//! body as malformed.

use std::time::Duration;

use integration_tests::StandaloneSandbox;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wechat_cloudbase_sandbox::{SANDBOX_ACCESS_TOKEN, Sandbox, SandboxConfig};

/// What any single wait of these tests may take at most: generous, as a loaded CI machine is slow.
const LIMIT: Duration = Duration::from_secs(20);

async fn standalone(args: &[&str]) -> StandaloneSandbox {
    StandaloneSandbox::start(args).await
}

/// Stops it with SIGTERM, which it must obey with exit 0; everything it logged.
async fn terminated(sandbox: StandaloneSandbox) -> String {
    let (code, log) = sandbox.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    log
}

/// The extras these tests need.
trait Measured {
    fn pid(&self) -> i32;
    fn stderr_len(&self) -> usize;
    fn cpu_time(&self) -> Duration;
}

impl Measured for StandaloneSandbox {
    fn pid(&self) -> i32 {
        i32::try_from(self.child.id().unwrap()).unwrap()
    }

    fn stderr_len(&self) -> usize {
        self.stderr().len()
    }

    /// The CPU time it has used so far, user and system: a resource figure from
    /// `/proc/PID/stat`, not a timing of anything.
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // The command name, in parentheses, may hold spaces: the fields are counted after it.
        let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_secs_f64(ticks as f64 / rustix::param::clock_ticks_per_second() as f64)
    }
}

/// `GET /nothing` on a kept-alive connection: an answer of the sandbox (404) that needs no token.
const PROBE: &[u8] = b"GET /nothing HTTP/1.1\r\nHost: sandbox\r\n\r\n";

/// Reads until the connection closes (or fails), within `LIMIT`; what it read.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut read = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        match tokio::time::timeout(LIMIT, stream.read(&mut buffer)).await {
            Err(_) => panic!("still open after {LIMIT:?}; read so far: {}", String::from_utf8_lossy(&read)),
            Ok(Ok(0) | Err(_)) => return read,
            Ok(Ok(n)) => read.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Reads the head of one answer (up to its blank line) within `wait`, or `None`.
async fn answer_head(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let read = async {
        let mut head = Vec::new();
        let mut byte = [0; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await.ok()? == 0 {
                return None;
            }
            head.push(byte[0]);
        }
        Some(String::from_utf8_lossy(&head).into_owned())
    };
    tokio::time::timeout(wait, read).await.ok().flatten()
}

#[tokio::test]
async fn out_of_file_descriptors_it_neither_spins_nor_floods_its_log_and_answers_once_they_close() {
    let sandbox = standalone(&[]).await;
    // A low RLIMIT_NOFILE, set on the running process: accept() soon fails with EMFILE.
    let pid = rustix::process::Pid::from_raw(sandbox.pid()).unwrap();
    let low = rustix::process::Rlimit { current: Some(64), maximum: Some(64) };
    rustix::process::prlimit(Some(pid), rustix::process::Resource::Nofile, low).unwrap();

    let mut idle = Vec::new();
    for _ in 0..150 {
        idle.push(TcpStream::connect(sandbox.addr()).await.unwrap());
    }
    let failing = async {
        while !sandbox.stderr().contains("accept failed") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(LIMIT, failing).await.expect("accept() fails under the low limit");

    let (cpu_before, log_before) = (sandbox.cpu_time(), sandbox.stderr_len());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu, logged) = (sandbox.cpu_time() - cpu_before, sandbox.stderr_len() - log_before);
    // A loop that retries at once uses about the whole 2 s of a core and logs megabytes.
    assert!(cpu < Duration::from_millis(500), "{cpu:?} of CPU in 2 s while accept() fails");
    assert!(logged < 4096, "{logged} bytes logged in 2 s: {}", &sandbox.stderr()[log_before..][..4096]);

    drop(idle);
    let mut client = TcpStream::connect(sandbox.addr()).await.unwrap();
    client.write_all(PROBE).await.unwrap();
    let head = answer_head(&mut client, LIMIT).await.expect("an answer once the descriptors are free");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let log = terminated(sandbox).await;
    assert!(log.contains("more failures since the last warning"), "{log}");
}

#[tokio::test]
async fn a_connection_that_sends_no_request_head_in_time_is_closed() {
    let sandbox = standalone(&["--idle-timeout", "1"]).await;
    // Nothing at all.
    let mut silent = TcpStream::connect(sandbox.addr()).await.unwrap();
    // Half a head, then nothing (slowloris).
    let mut halting = TcpStream::connect(sandbox.addr()).await.unwrap();
    halting.write_all(b"POST /componenttcb/batchgetenvid HTTP/1.1\r\nHost: sandbox\r\n").await.unwrap();
    // One answer, then idle on a kept-alive connection.
    let mut idle = TcpStream::connect(sandbox.addr()).await.unwrap();
    idle.write_all(PROBE).await.unwrap();

    read_to_close(&mut silent).await;
    read_to_close(&mut halting).await;
    let answered = String::from_utf8_lossy(&read_to_close(&mut idle).await).into_owned();
    assert!(answered.starts_with("HTTP/1.1 404"), "{answered}");
    assert_eq!(answered.matches("HTTP/1.1").count(), 1, "{answered}");
    terminated(sandbox).await;
}

#[tokio::test]
async fn no_more_connections_than_the_cap_are_served_and_the_next_one_is_served_when_one_closes() {
    let sandbox = standalone(&["--max-connections", "2", "--idle-timeout", "60"]).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut connection = TcpStream::connect(sandbox.addr()).await.unwrap();
        connection.write_all(PROBE).await.unwrap();
        let head = answer_head(&mut connection, LIMIT).await.expect("served within the cap");
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
        held.push(connection);
    }
    let mut third = TcpStream::connect(sandbox.addr()).await.unwrap();
    third.write_all(PROBE).await.unwrap();
    assert_eq!(
        answer_head(&mut third, Duration::from_millis(700)).await,
        None,
        "a third connection is served"
    );

    drop(held.pop());
    let head = answer_head(&mut third, LIMIT).await.expect("served once a slot is free");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    terminated(sandbox).await;
}

/// `text` with every byte %-encoded, as a client may send it.
fn percent_all(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn no_token_reaches_the_log_under_any_encoding_the_sandbox_accepts() {
    const OPERATOR: &str = "operator-token-5e1f";
    const SPACED: &str = "spaced token 9c2b";
    let sandbox = standalone(&["--access-token", OPERATOR, "--access-token", SPACED]).await;
    let base_url = sandbox.base_url.clone();
    let http = integration_tests::reqwest_client();
    let issued: serde_json::Value = http
        .post(format!("{base_url}/cgi-bin/component/api_component_token"))
        .body(
            serde_json::json!({
                "component_appid": wechat_cloudbase_sandbox::SANDBOX_COMPONENT_APPID,
                "component_appsecret": wechat_cloudbase_sandbox::SANDBOX_COMPONENT_APPSECRET,
                "component_verify_ticket": wechat_cloudbase_sandbox::SANDBOX_VERIFY_TICKET,
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issued = issued["component_access_token"].as_str().unwrap().to_owned();

    // (query, accepted): each way a client can spell a token the sandbox accepts, and two it
    // refuses whose value is still a token.
    let queries = [
        (format!("access_token={OPERATOR}"), true),
        (format!("access%5Ftoken={OPERATOR}"), true),
        (format!("%61ccess_token={OPERATOR}"), true),
        (format!("%61%63%63%65%73%73%5F%74%6F%6B%65%6E={OPERATOR}"), true),
        (format!("access_token={}", percent_all(OPERATOR)), true),
        (format!("access_token={}", SPACED.replace(' ', "+")), true),
        (format!("access_token={}", SPACED.replace(' ', "%20")), true),
        (format!("access_token={OPERATOR}&access_token={SPACED}"), true),
        (format!("x=1&access_token={issued}&access_token={OPERATOR}"), true),
        (format!("access%5ftoken={}", percent_all(&issued)), true),
        (format!("access_token=&access_token={OPERATOR}"), false),
        (format!("x=1;access_token={OPERATOR}"), false),
        (format!("acces_token={issued}"), false),
    ];
    for (query, accepted) in &queries {
        let answer: serde_json::Value = http
            .post(format!("{base_url}/componenttcb/batchgetenvid?{query}"))
            .body(r#"{"appids":["wx5fe6bb43205e9e07"],"source_type":1}"#)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["errcode"] == 0, *accepted, "{query}: {answer}");
    }
    let log = terminated(sandbox).await;
    assert_eq!(log.matches("batchgetenvid?").count(), queries.len(), "{log}");
    let mut secrets = vec![OPERATOR.to_owned(), SPACED.to_owned(), issued.clone()];
    secrets.extend([percent_all(OPERATOR), SPACED.replace(' ', "+"), SPACED.replace(' ', "%20")]);
    secrets.extend([percent_all(&issued), "9c2b".to_owned(), issued[issued.len() - 8..].to_owned()]);
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "`{secret}` is in the log:\n{log}");
    }
    assert!(log.contains("batchgetenvid?access_token=<redacted> -> 200 errcode=0"), "{log}");
}

// Refusals: a body that cannot be read is not a body that is too large.

/// Sends `head` and `body` to the sandbox on a raw connection and returns its answer's text.
async fn raw_exchange(sandbox: &Sandbox, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(sandbox.addr()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = String::new();
    while !answer.contains("rid: ") {
        let head = answer_head(&mut stream, LIMIT).await.expect("an answer");
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .expect("a content-length")
            .parse()
            .unwrap();
        let mut text = vec![0; length];
        stream.read_exact(&mut text).await.unwrap();
        answer = String::from_utf8(text).unwrap();
    }
    answer
}

#[tokio::test]
async fn a_malformed_chunked_body_is_refused_as_malformed_not_as_too_large() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let head = format!(
        "POST /componenttcb/batchgetenvid?access_token={SANDBOX_ACCESS_TOKEN} HTTP/1.1\r\n\
         Host: sandbox\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for (what, body) in [
        ("a chunk size that is not hex", b"zz\r\n{}\r\n0\r\n\r\n".as_slice()),
        ("a chunk longer than its size", b"2\r\n{}XX\r\n0\r\n\r\n".as_slice()),
    ] {
        let answer = raw_exchange(&sandbox, &head, body).await;
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["errcode"], 47001, "{what}: {answer}");
        let errmsg = answer["errmsg"].as_str().unwrap();
        assert!(errmsg.contains("chunk") && !errmsg.contains("larger"), "{what}: {errmsg}");
    }
    // A well-formed chunked body over 8 MiB is still the one that is too large.
    let mut large = format!("{:x}\r\n", 8 * 1024 * 1024 + 1).into_bytes();
    large.extend(vec![b' '; 8 * 1024 * 1024 + 1]);
    large.extend_from_slice(b"\r\n0\r\n\r\n");
    let answer: serde_json::Value =
        serde_json::from_str(&raw_exchange(&sandbox, &head, &large).await).unwrap();
    assert_eq!(answer["errcode"], 40097, "{answer}");
    assert!(answer["errmsg"].as_str().unwrap().contains("larger than 8388608 bytes"), "{answer}");
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_refused_after_the_idle_timeout_and_frees_its_connection() {
    let sandbox = standalone(&["--idle-timeout", "1", "--max-connections", "1"]).await;
    let mut stalled = TcpStream::connect(sandbox.addr()).await.unwrap();
    stalled
        .write_all(
            format!(
                "POST /componenttcb/batchgetenvid?access_token={SANDBOX_ACCESS_TOKEN} HTTP/1.1\r\nHost: x\r\n\
                 Content-Length: 100\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // The head arrived, the body never will: the answer is a refusal, not a wait forever.
    let answer = String::from_utf8_lossy(&read_to_close(&mut stalled).await).into_owned();
    assert!(answer.contains("47001") && answer.contains("did not arrive"), "{answer}");
    // And the one connection slot is free again.
    let mut next = TcpStream::connect(sandbox.addr()).await.unwrap();
    next.write_all(PROBE).await.unwrap();
    let mut buffer = [0; 64];
    let n = tokio::time::timeout(LIMIT, next.read(&mut buffer)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 404"));
    terminated(sandbox).await;
}
