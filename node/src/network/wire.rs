//! Every byte libp2p's own protocols move, beside the node's application counters
//! ([`super::links`]): ping, identify, Kademlia, AutoNAT, DCUtR, relay and gossipsub with its
//! control messages and duplicate copies, as well as the node's own requests and transfers.
//!
//! libp2p counts each connection's substreams (transport-independent: TCP, QUIC and relayed
//! connections alike) per protocol stack in its own metrics registry, of its own
//! prometheus-client version; the node reads the totals from that registry's text form when
//! status is asked. What is not counted is below the substreams: the stream multiplexer's
//! frame headers, the secure channel's tags and TCP/IP headers. A relayed connection's bytes
//! are counted twice on its node: once on the relayed connection, once inside the circuit
//! stream to the relay.

use libp2p::metrics::Registry;

use super::links::Bytes;

/// libp2p's substream byte counters.
#[derive(Default)]
pub(super) struct WireMeter {
    registry: Registry,
}

impl std::fmt::Debug for WireMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WireMeter")
    }
}

impl WireMeter {
    /// The registry the swarm builder registers its bandwidth counters in.
    pub(super) fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Bytes received and sent on every connection since start.
    pub(super) fn totals(&self) -> Bytes {
        let mut text = String::new();
        match prometheus_client_libp2p::encoding::text::encode(&mut text, &self.registry) {
            Ok(()) => totals(&text),
            Err(_) => Bytes::default(),
        }
    }
}

/// The totals in libp2p's bandwidth counters, as Prometheus text: every protocol stack's
/// `libp2p_bandwidth_bytes_total` summed by direction.
fn totals(text: &str) -> Bytes {
    let mut out = Bytes::default();
    for line in text.lines().filter(|l| l.starts_with("libp2p_bandwidth_bytes_total{")) {
        let Some((labels, value)) = line.rsplit_once(' ') else { continue };
        let Ok(n) = value.parse::<f64>() else { continue };
        let n = n as u64;
        if labels.contains("direction=\"Inbound\"") {
            out.bytes_in += n;
        } else if labels.contains("direction=\"Outbound\"") {
            out.bytes_out += n;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_protocol_stack_is_summed_by_direction() {
        let text = "# HELP libp2p_bandwidth_bytes Bandwidth usage by direction and transport protocols.\n\
            # TYPE libp2p_bandwidth_bytes counter\n\
            # UNIT libp2p_bandwidth_bytes bytes\n\
            libp2p_bandwidth_bytes_total{protocols=\"/ip4/tcp/p2p\",direction=\"Inbound\"} 1200\n\
            libp2p_bandwidth_bytes_total{protocols=\"/ip4/tcp/p2p\",direction=\"Outbound\"} 800\n\
            libp2p_bandwidth_bytes_total{protocols=\"/ip4/udp/quic-v1/p2p\",direction=\"Inbound\"} 34\n\
            libp2p_bandwidth_bytes_total{protocols=\"/ip4/udp/quic-v1/p2p\",direction=\"Outbound\"} nonsense\n\
            # EOF\n";
        assert_eq!(totals(text), Bytes { bytes_in: 1234, bytes_out: 800 });
        assert_eq!(WireMeter::default().totals(), Bytes::default());
    }
}
