//! A NAT lab on one machine: network namespaces joined by veth pairs, an "internet" bridge on
//! 198.18.0.0/15 (the benchmarking range, RFC 2544; never any other public range), and
//! nftables routers that masquerade a private LAN behind one public address.
//!
//! Each [`Lab`] owns its namespaces, named after the process and a counter so tests run in
//! parallel, and deletes them when dropped, also when the test panics. The "internet" is a
//! bridge inside its own namespace, so nothing is added to the machine's own network.
//!
//! - [`Lab::public`]: a host with an address on the internet segment (a relay, a server).
//! - [`Lab::behind_nat`]: a router with one public address (`wan`) and a private LAN
//!   10.N.0.0/24 (`lan`), and a host on that LAN. A [`Nat::Cone`] router masquerades with an
//!   endpoint-independent mapping (Linux keeps the source port when it can), so hole punching
//!   works; a [`Nat::Symmetric`] one uses `masquerade fully-random`, a new random port per
//!   destination, so it does not. Both drop unsolicited inbound connections, as home routers do.
//!
//! The lab needs root and the `ip` (iproute2) and `nft` (nftables) tools, installed by
//! `scripts/setup/netlab.sh`; [`Lab::new`] returns `None` after printing `skipped: <reason>`
//! when they are missing.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// How a router maps its LAN's connections to its public address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// `masquerade`: one public port per local socket whatever the destination
    /// (endpoint-independent mapping, "cone").
    Cone,
    /// `masquerade fully-random`: a random public port for every new destination
    /// (endpoint-dependent mapping, "symmetric").
    Symmetric,
}

/// A namespace a node can run in, and the address it listens on there.
#[derive(Debug, Clone)]
pub struct Host {
    /// The network namespace.
    pub ns: String,
    /// Its address: on 198.18.0.0/15 for a public host, on its router's LAN otherwise.
    pub ip: Ipv4Addr,
    /// The public address others see it at (its own, or its router's).
    pub public_ip: Ipv4Addr,
    /// The namespace and interface whose outbound queue carries what the host sends to the
    /// internet: where [`Lab::shape`] puts its upload limit.
    pub uplink: (String, String),
    /// The same for what the host receives from the internet.
    pub downlink: (String, String),
}

static LABS: AtomicUsize = AtomicUsize::new(0);

/// One lab's namespaces, deleted on drop.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    internet: String,
    namespaces: Vec<String>,
    publics: u8,
    routers: u8,
}

/// Why the lab cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("the NAT lab needs root (network namespaces, nftables)".into());
    }
    for (tool, arg) in [("ip", "-V"), ("nft", "--version")] {
        let ok = Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Some(format!("`{tool}` is not installed (run scripts/setup/netlab.sh)"));
        }
    }
    None
}

/// Runs `ip ARGS`, panicking with its error output if it fails.
fn ip(args: &[&str]) {
    run("ip", args, None);
}

fn run(program: &str, args: &[&str], stdin: Option<&str>) {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("running {program}: {e}"));
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.unwrap_or("").as_bytes());
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// The router's rules: masquerade what leaves on `wan`, forward what the LAN starts and the
/// replies to it, drop every other inbound connection.
fn router_rules(nat: Nat) -> String {
    let masquerade = match nat {
        Nat::Cone => "masquerade",
        Nat::Symmetric => "masquerade fully-random",
    };
    format!(
        "table ip nat {{\n\
           chain postrouting {{ type nat hook postrouting priority srcnat; oifname \"wan\" {masquerade}; }}\n\
         }}\n\
         table ip filter {{\n\
           chain forward {{ type filter hook forward priority filter; policy drop;\n\
             ct state established,related accept; iifname \"lan\" oifname \"wan\" accept; }}\n\
           chain input {{ type filter hook input priority filter; policy accept;\n\
             iifname \"wan\" ct state new drop; }}\n\
         }}\n"
    )
}

impl Lab {
    /// A new, empty lab (an internet bridge and nothing on it); `None` after printing
    /// `skipped: <reason>` when the lab cannot run here.
    pub fn new() -> Option<Self> {
        if let Some(reason) = unavailable() {
            println!("skipped: {reason}");
            return None;
        }
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("amsp{}x{n}", std::process::id());
        let internet = format!("{prefix}-net");
        let mut lab = Self {
            prefix,
            internet: internet.clone(),
            namespaces: Vec::new(),
            publics: 0,
            routers: 0,
        };
        lab.namespace(&internet);
        ip(&["-n", &internet, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &internet, "link", "set", "br0", "up"]);
        Some(lab)
    }

    fn namespace(&mut self, name: &str) {
        ip(&["netns", "add", name]);
        self.namespaces.push(name.to_string());
        ip(&["-n", name, "link", "set", "lo", "up"]);
    }

    /// Plugs interface `dev` of namespace `ns` into the internet bridge with address `addr`;
    /// returns the bridge's side of the pair.
    fn plug(&mut self, ns: &str, dev: &str, addr: Ipv4Addr) -> String {
        let port = format!("p{}", self.publics as usize + 256 * self.routers as usize);
        ip(&[
            "-n",
            &self.internet,
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            dev,
            "netns",
            ns,
        ]);
        ip(&["-n", &self.internet, "link", "set", &port, "master", "br0", "up"]);
        ip(&["-n", ns, "addr", "add", &format!("{addr}/15"), "dev", dev]);
        ip(&["-n", ns, "link", "set", dev, "up"]);
        port
    }

    /// A host on the internet segment, at 198.18.0.N.
    pub fn public(&mut self, name: &str) -> Host {
        self.publics += 1;
        let ns = format!("{}-{name}", self.prefix);
        self.namespace(&ns);
        let addr = Ipv4Addr::new(198, 18, 0, self.publics);
        let port = self.plug(&ns, "eth0", addr);
        let downlink = (self.internet.clone(), port);
        Host { uplink: (ns.clone(), "eth0".into()), downlink, ns, ip: addr, public_ip: addr }
    }

    /// A host at 10.N.0.2 behind its own router, whose public address is 198.18.1.N.
    pub fn behind_nat(&mut self, name: &str, nat: Nat) -> Host {
        self.routers += 1;
        let n = self.routers;
        let router = format!("{}-{name}-gw", self.prefix);
        let ns = format!("{}-{name}", self.prefix);
        self.namespace(&router);
        self.namespace(&ns);
        let public_ip = Ipv4Addr::new(198, 18, 1, n);
        self.plug(&router, "wan", public_ip);
        let gw = Ipv4Addr::new(10, n, 0, 1);
        let addr = Ipv4Addr::new(10, n, 0, 2);
        ip(&[
            "-n", &router, "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns",
            &ns,
        ]);
        ip(&["-n", &router, "addr", "add", &format!("{gw}/24"), "dev", "lan"]);
        ip(&["-n", &router, "link", "set", "lan", "up"]);
        ip(&["-n", &ns, "addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
        ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        ip(&["-n", &ns, "route", "add", "default", "via", &gw.to_string()]);
        run("ip", &["netns", "exec", &router, "sysctl", "-qw", "net.ipv4.ip_forward=1"], None);
        run("ip", &["netns", "exec", &router, "nft", "-f", "-"], Some(&router_rules(nat)));
        let (uplink, downlink) = ((router.clone(), "wan".into()), (router, "lan".into()));
        Host { ns, ip: addr, public_ip, uplink, downlink }
    }
}

impl Lab {
    /// Cuts the internet between two groups of hosts, as a failed link between two sites does:
    /// each host drops every packet to or from the other group (no reset, no refusal), until
    /// [`Lab::heal`].
    pub fn split(&self, a: &[&Host], b: &[&Host]) {
        for (side, other) in [(a, b), (b, a)] {
            let set: Vec<String> = other.iter().map(|h| h.ip.to_string()).collect();
            let set = set.join(", ");
            let rules = format!(
                "table ip partition {{\n\
                   chain input {{ type filter hook input priority filter; ip saddr {{ {set} }} drop; }}\n\
                   chain output {{ type filter hook output priority filter; ip daddr {{ {set} }} drop; }}\n\
                 }}\n"
            );
            for h in side {
                run("ip", &["netns", "exec", &h.ns, "nft", "-f", "-"], Some(&rules));
            }
        }
    }

    /// Undoes [`Lab::split`] for `hosts`.
    pub fn heal(&self, hosts: &[&Host]) {
        for h in hosts {
            run("ip", &["netns", "exec", &h.ns, "nft", "delete", "table", "ip", "partition"], None);
        }
    }
}

impl Lab {
    /// Limits a link to `mbit` megabits per second with a token bucket (`tc qdisc … tbf`), as
    /// a subscriber line is limited; replaces any earlier limit on it. `link` is a host's
    /// [`Host::uplink`] or [`Host::downlink`].
    pub fn shape(&self, link: &(String, String), mbit: u32) {
        let (ns, dev) = link;
        let rate = format!("{mbit}mbit");
        // A burst of 5 ms at the rate (at least 16 kB); up to 50 ms queued, then drops.
        let burst = format!("{}", (mbit as usize * 1_000_000 / 8 / 200).max(16_000));
        run(
            "ip",
            &[
                "netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate",
                &rate, "burst", &burst, "latency", "50ms",
            ],
            None,
        );
    }

    /// Sends `bytes` over one plain TCP connection from `from` to `to` and returns the
    /// receiver's rate in bytes per second: what the links between them carry for one
    /// connection with nothing on top, the anchor a transfer's rate is held against.
    pub fn tcp_rate(&self, from: &Host, to: &Host, bytes: usize) -> std::io::Result<f64> {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        let in_ns = |ns: &str| -> std::io::Result<()> {
            let file = std::fs::File::open(format!("/run/netns/{ns}"))?;
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(std::io::Error::other)
        };
        let (to_ns, to_ip) = (to.ns.clone(), to.ip);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let receiver = std::thread::spawn(move || -> std::io::Result<f64> {
            in_ns(&to_ns)?;
            let listener = TcpListener::bind((to_ip, 0))?;
            let _ = ready_tx.send(listener.local_addr()?.port());
            // A sender that never connects must not leave this thread waiting for ever.
            listener.set_nonblocking(true)?;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            let mut s = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if std::time::Instant::now() > deadline {
                            return Err(std::io::Error::other("no connection within 30 s"));
                        }
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    Err(e) => return Err(e),
                }
            };
            s.set_nonblocking(false)?;
            let mut buf = vec![0u8; 1 << 16];
            let (mut got, start) = (0usize, std::time::Instant::now());
            while got < bytes {
                match s.read(&mut buf)? {
                    0 => break,
                    n => got += n,
                }
            }
            Ok(got as f64 / start.elapsed().as_secs_f64())
        });
        let port = ready_rx.recv().map_err(std::io::Error::other)?;
        let (from_ns, target) = (from.ns.clone(), std::net::SocketAddr::from((to.public_ip, port)));
        // Only a public `to` can be reached this way: a router drops unsolicited connections.
        let sender = std::thread::spawn(move || -> std::io::Result<()> {
            in_ns(&from_ns)?;
            let mut s = TcpStream::connect(target)?;
            let block = vec![0x5au8; 1 << 16];
            let mut sent = 0;
            while sent < bytes {
                let n = block.len().min(bytes - sent);
                s.write_all(&block[..n])?;
                sent += n;
            }
            Ok(())
        });
        sender.join().map_err(|_| std::io::Error::other("sender panicked"))??;
        receiver.join().map_err(|_| std::io::Error::other("receiver panicked"))?
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A TCP forwarder from 127.0.0.1 in the test's own namespace to an address inside a lab
/// namespace, so the test talks to a node's loopback-only control API. Stops accepting when
/// dropped.
#[derive(Debug)]
pub struct Forward {
    /// Where to connect in the test's namespace.
    pub local: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Forward {
    /// Forwards `127.0.0.1:<new port>` to `target` inside namespace `ns`.
    pub fn into_namespace(ns: &str, target: std::net::SocketAddr) -> std::io::Result<Self> {
        use std::net::{TcpListener, TcpStream};
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        // Bound here, before the thread enters the lab namespace: the listener stays in ours.
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let ns_file = std::fs::File::open(format!("/run/netns/{ns}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            // Sockets this thread (and the threads it starts) opens from here on are in `ns`.
            if nix::sched::setns(&ns_file, nix::sched::CloneFlags::CLONE_NEWNET).is_err() {
                return;
            }
            while !stopped.load(Ordering::Relaxed) {
                let inbound = match listener.accept() {
                    Ok((s, _)) => s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        continue;
                    }
                    Err(_) => break,
                };
                std::thread::spawn(move || {
                    let _ = inbound.set_nonblocking(false);
                    let Ok(outbound) = TcpStream::connect(target) else { return };
                    let (Ok(mut a_read), Ok(mut b_read)) =
                        (inbound.try_clone(), outbound.try_clone())
                    else {
                        return;
                    };
                    let (mut a_write, mut b_write) = (inbound, outbound);
                    let up = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut a_read, &mut b_write);
                        let _ = b_write.shutdown(std::net::Shutdown::Write);
                    });
                    let _ = std::io::copy(&mut b_read, &mut a_write);
                    let _ = a_write.shutdown(std::net::Shutdown::Write);
                    let _ = up.join();
                });
            }
        });
        Ok(Self { local, stop })
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
