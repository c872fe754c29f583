//! Network pieces a corporate network puts between the provider and AWS, on loopback only:
//! - [`TlsFront`]: an HTTPS endpoint in front of moto whose certificate is signed by a throwaway
//!   CA (what a private endpoint or a TLS-inspecting proxy presents), for `custom_ca_bundle`;
//! - [`ConnectProxy`]: a forward proxy that tunnels `CONNECT host:port` (what `HTTPS_PROXY`
//!   names) and logs each tunnel.
//!
//! Both are small Python asyncio programs (python3 is already what runs moto), killed on drop
//! and gone when the test process is (they exit when their stdin closes).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SCRIPT: &str = r#"
import asyncio, os, ssl, sys, threading

# Exit when the test process goes away (its end of stdin closes), even if it was killed.
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()

async def pipe(r, w):
    try:
        while True:
            b = await r.read(65536)
            if not b:
                break
            w.write(b)
            await w.drain()
    except Exception:
        pass
    finally:
        try:
            w.close()
        except Exception:
            pass

async def front(r, w):
    # Called once the TLS handshake succeeded.
    print("TLS", flush=True)
    ur, uw = await asyncio.open_connection("127.0.0.1", int(sys.argv[4]))
    await asyncio.gather(pipe(r, uw), pipe(ur, w))

async def tunnel(r, w):
    line = (await r.readline()).decode("latin-1").split()
    while (await r.readline()) not in (b"\r\n", b"\n", b""):
        pass
    if len(line) != 3 or line[0] != "CONNECT":
        w.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        await w.drain()
        w.close()
        return
    host, port = line[1].rsplit(":", 1)
    if host not in ("127.0.0.1", "localhost"):
        w.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await w.drain()
        w.close()
        return
    print("CONNECT " + line[1], flush=True)
    ur, uw = await asyncio.open_connection("127.0.0.1", int(port))
    w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await w.drain()
    await asyncio.gather(pipe(r, uw), pipe(ur, w))

async def main():
    if sys.argv[1] == "front":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        srv = await asyncio.start_server(front, "127.0.0.1", 0, ssl=ctx)
    else:
        srv = await asyncio.start_server(tunnel, "127.0.0.1", 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    await srv.serve_forever()

asyncio.run(main())
"#;

/// A running helper process: its port and the lines it printed after the port.
struct Helper {
    child: Child,
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Helper {
    fn start(args: &[&str]) -> Helper {
        let mut child = Command::new(crate::moto::python())
            .args(["-u", "-c", SCRIPT])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the TLS front / CONNECT proxy");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let port: u16 = first
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("helper printed no port: {first:?}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Helper { child, port, lines }
    }

    fn lines(&self) -> Vec<String> {
        // The reader thread may lag the last write by a moment.
        std::thread::sleep(Duration::from_millis(100));
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `https://localhost:PORT` in front of moto, with a certificate for `localhost` and
/// `127.0.0.1` signed by a CA made for this front alone.
pub struct TlsFront {
    helper: Helper,
    ca_file: PathBuf,
}

impl TlsFront {
    /// Writes the CA (`ca.pem`), certificate and key into `dir` and starts the front.
    pub fn start(dir: &Path, moto_port: u16) -> TlsFront {
        std::fs::create_dir_all(dir).unwrap();
        let tls = crate::http::localhost_tls(dir, "immutable e2e private CA", "front-");
        let ca_file = tls.ca_file.clone();
        let helper = Helper::start(&[
            "front",
            tls.cert_file.to_str().unwrap(),
            tls.key_file.to_str().unwrap(),
            &moto_port.to_string(),
        ]);
        TlsFront { helper, ca_file }
    }

    pub fn endpoint(&self) -> String {
        format!("https://localhost:{}", self.helper.port)
    }

    pub fn port(&self) -> u16 {
        self.helper.port
    }

    /// The CA that signed the front's certificate (PEM file).
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// How many TLS handshakes succeeded (connections that reached moto).
    pub fn handshakes(&self) -> usize {
        self.helper.lines().iter().filter(|l| *l == "TLS").count()
    }
}

/// A forward proxy on loopback for `HTTPS_PROXY`: tunnels CONNECT to loopback targets only.
pub struct ConnectProxy {
    helper: Helper,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        ConnectProxy {
            helper: Helper::start(&["proxy"]),
        }
    }

    /// `http://127.0.0.1:PORT`, the value of `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.helper.port)
    }

    /// The `host:port` of every tunnel opened, in order.
    pub fn tunnels(&self) -> Vec<String> {
        self.helper
            .lines()
            .into_iter()
            .filter_map(|l| l.strip_prefix("CONNECT ").map(str::to_string))
            .collect()
    }
}
