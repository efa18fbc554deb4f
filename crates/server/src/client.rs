//! Who the client is, for rate limits: the peer address, or, when the peer is a configured
//! trusted proxy (the HTTPS terminator or CDN in front of the server), the address that proxy
//! reports in a header. Without a trusted proxy every phone behind it would share one limit
//! bucket, and ten bad codes would block the country; trusting the header from anyone else
//! would let a client choose its own bucket.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// An IP network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts as IPv4).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for IpNetwork {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not an IP address or network (e.g. 10.0.0.0/8)");
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address = canonical(address.trim().parse::<IpAddr>().map_err(|_| bad())?);
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(bad)?,
            None => max,
        };
        Ok(Self { address, prefix })
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// How to find the client's address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientAddressPolicy {
    /// Proxies whose header is believed (none by default: the peer address is the client).
    pub trusted_proxies: Vec<IpNetwork>,
    /// The header they set, lower case (default `x-forwarded-for`). For `x-forwarded-for`
    /// the rightmost address that is not itself a trusted proxy is the client; any other
    /// header (`x-real-ip`, `cf-connecting-ip`...) holds one address.
    pub header: Option<String>,
}

impl ClientAddressPolicy {
    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(ip))
    }

    /// The client's address for a request from `peer` with these headers.
    #[must_use]
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusted(peer) {
            return peer;
        }
        let name = self.header.as_deref().unwrap_or("x-forwarded-for");
        let values = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>();
        let parse = |s: &str| s.trim().parse::<IpAddr>().ok().map(canonical);
        if name == "x-forwarded-for" {
            // Each proxy appends the address it received from; walk back from the right
            // through our own proxies to the first address one of them received from.
            let hops: Vec<&str> = values.iter().flat_map(|v| v.split(',')).collect();
            for hop in hops.iter().rev() {
                match parse(hop) {
                    Some(ip) if self.trusted(ip) => {}
                    Some(ip) => return ip,
                    None => return peer,
                }
            }
            peer
        } else {
            match values.as_slice() {
                [one] => parse(one).unwrap_or(peer),
                _ => peer,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code.

    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn networks() {
        let net: IpNetwork = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.200.1.1")));
        assert!(net.contains(ip("::ffff:10.0.0.1")));
        assert!(!net.contains(ip("11.0.0.1")));
        let one: IpNetwork = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: IpNetwork = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        let all: IpNetwork = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        for bad in ["10.0.0.0/33", "nope", "::/129", "1.2.3.4/x"] {
            assert!(bad.parse::<IpNetwork>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_header_is_believed_only_from_a_trusted_proxy() {
        let policy = ClientAddressPolicy {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            header: None,
        };
        let forwarded = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(policy.client(ip("10.1.1.1"), &forwarded), ip("203.0.113.9"));
        // A client cannot choose its own bucket by sending the header itself.
        assert_eq!(
            policy.client(ip("198.51.100.4"), &forwarded),
            ip("198.51.100.4")
        );
        // Without a policy nothing is believed.
        let none = ClientAddressPolicy::default();
        assert_eq!(none.client(ip("10.1.1.1"), &forwarded), ip("10.1.1.1"));
    }

    #[test]
    fn spoofed_hops_left_of_the_proxy_are_ignored() {
        let policy = ClientAddressPolicy {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            header: None,
        };
        // The client sent "1.1.1.1" itself; our proxies appended the real address and their own.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1, 203.0.113.9"),
            ("x-forwarded-for", "10.0.0.2"),
        ]);
        assert_eq!(policy.client(ip("10.0.0.1"), &h), ip("203.0.113.9"));
        // Garbage in the chain: fall back to the proxy (one shared bucket, never a chosen one).
        let h = headers(&[("x-forwarded-for", "203.0.113.9, junk")]);
        assert_eq!(policy.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn single_address_headers() {
        let policy = ClientAddressPolicy {
            trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
            header: Some("x-real-ip".into()),
        };
        let h = headers(&[("x-real-ip", "2001:db8::5")]);
        assert_eq!(policy.client(ip("127.0.0.1"), &h), ip("2001:db8::5"));
        let two = headers(&[("x-real-ip", "203.0.113.1"), ("x-real-ip", "203.0.113.2")]);
        assert_eq!(policy.client(ip("127.0.0.1"), &two), ip("127.0.0.1"));
    }
}
