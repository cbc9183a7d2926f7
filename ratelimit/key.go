package ratelimit

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Key is the identity a limit counts against (SPEC §7): the authenticated
// user when there is one, so a user cannot escape a limit by switching
// devices or networks, else the client IP.
func Key(userID, ip string) string {
	if userID != "" {
		return "user:" + userID
	}
	return "ip:" + ip
}

// ClientIP returns the client address of a request. X-Forwarded-For is
// honoured only when the peer (remoteAddr) is a trusted proxy: the list is
// walked right to left, skipping trusted hops, and the first untrusted
// address is the client. If every hop is trusted the leftmost is used; an
// unparsable entry stops the walk at the last trusted hop, since everything
// left of it may be forged. Without trusted proxies the header is ignored:
// anyone can send it. IPv4-mapped IPv6 addresses are unmapped, so one client
// has one key.
func ClientIP(remoteAddr string, h http.Header, trusted []netip.Prefix) string {
	peer, ok := parseHostAddr(remoteAddr)
	if !ok {
		return remoteAddr
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	var hops []string
	for _, v := range h.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		addr, ok := parseHostAddr(strings.TrimSpace(hops[i]))
		if !ok {
			break
		}
		client = addr
		if !isTrusted(addr, trusted) {
			break
		}
	}
	return client.String()
}

// parseHostAddr parses "ip", "ip:port" or "[ipv6]:port".
func parseHostAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes and bare
// addresses ("10.0.0.0/8,127.0.0.1,::1"). Empty means no trusted proxy.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("ratelimit: trusted proxy %q: %w", item, err)
			}
			if p.Addr().Is4In6() {
				return nil, fmt.Errorf("ratelimit: trusted proxy %q: write IPv4 prefixes in IPv4 form", item)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("ratelimit: trusted proxy %q: %w", item, err)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
