package policy

import (
	"net"
	"net/netip"
)

// Class says who the SMTP client is to us, which decides what is checked
// and what is enforced.
type Class string

const (
	// Inbound is mail from another domain's server: judged and enforced.
	Inbound Class = "inbound"
	// Internal is a client in internal_networks: a submission, not judged
	// by SPF, and exempt from DMARC enforcement.
	Internal Class = "internal"
	// Authenticated is a client that logged in with SMTP AUTH.
	Authenticated Class = "authenticated"
	// Forwarder is a trusted forwarder (trusted_forwarders): it re-sends
	// other people's mail, so SPF fails for it by design; DMARC failures
	// are reported and not enforced.
	Forwarder Class = "trusted_forwarder"
	// Relay is one of our own border MXes (trusted_relays): SPF is judged
	// on the client it recorded in its Received field.
	Relay Class = "trusted_relay"
)

// classify decides the client's Class. Authentication wins over networks:
// an authenticated user is one of ours wherever they connect from.
func (e *Engine) classify(env Envelope) Class {
	if env.AuthUser != "" {
		return Authenticated
	}
	if env.ClientIP == nil {
		// No readable address (an MTA that sent none, XCLIENT with
		// [UNAVAILABLE]): nothing proves the client is ours, so it is
		// judged like any other. Local submissions come with 127.0.0.1
		// (Postfix's non_smtpd_milters) and are internal.
		return Inbound
	}
	// Relays and forwarders first: a border MX or a re-injecting forwarder
	// may well sit inside internal_networks, and its mail is other
	// people's, to be judged, not our users' submissions.
	ip := toAddr(env.ClientIP)
	switch {
	case contains(e.opts.DMARC.TrustedRelays, ip):
		return Relay
	case contains(e.opts.DMARC.TrustedForwarders, ip):
		return Forwarder
	case contains(e.opts.InternalNetworks, ip):
		return Internal
	}
	return Inbound
}

func toAddr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

func contains(nets []netip.Prefix, a netip.Addr) bool {
	for _, n := range nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}
