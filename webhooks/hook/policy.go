package hook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/kessai/kessai/core/fault"
)

// Policy says where kessai may deliver webhooks. A shop chooses the URL and reads the delivery
// log, so without it an endpoint would turn kessai into a client inside the operator's network
// (an admin console on 127.0.0.1, a cloud metadata service on 169.254.169.254) whose answers
// come back to the shop.
//
// The zero Policy is production's: https only, and only to addresses reachable from the
// internet. It is enforced twice, when an endpoint is registered and again by the sender's
// dialer on the address it is about to connect to, so a name that resolves to a public
// address at registration and to 127.0.0.1 later (DNS rebinding) is still refused.
type Policy struct {
	// AllowHTTP accepts http:// endpoints (KESSAI_WEBHOOK_ALLOW_HTTP), for development
	// receivers without a certificate.
	AllowHTTP bool
	// AllowPrivate accepts endpoints on loopback, private, link-local and other non-public
	// addresses (KESSAI_WEBHOOK_ALLOW_PRIVATE), for the demo and receivers on the same host.
	AllowPrivate bool
	// Resolver looks host names up, at registration and at dial time; nil means
	// net.DefaultResolver. Tests give one that answers without the network.
	Resolver Resolver
}

// Resolver is the part of *net.Resolver the policy uses.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// ErrRefused is wrapped by the sender's dial error when the policy refuses every address of
// an endpoint; nothing was sent. Its text is what the delivery log shows, as in
// "refused: private address".
var ErrRefused = fault.Sentinel("refused", fault.Invalid, "address_refused", addressRule)

// An addrClass names why an address is not public; the empty class is a public address.
type addrClass string

const (
	public      addrClass = ""
	loopback    addrClass = "loopback"
	private     addrClass = "private"
	linkLocal   addrClass = "link-local"
	multicast   addrClass = "multicast"
	unspecified addrClass = "unspecified"
	shared      addrClass = "shared (CGNAT)"
	reserved    addrClass = "reserved"
)

// Japanese names of the classes, for the messages shops read.
var classNames = map[addrClass]string{
	loopback:    "ループバックアドレス",
	private:     "プライベートアドレス",
	linkLocal:   "リンクローカルアドレス",
	multicast:   "マルチキャストアドレス",
	unspecified: "未指定アドレス",
	shared:      "CGNAT共有アドレス（100.64.0.0/10）",
	reserved:    "予約済みアドレス",
}

// addressRule is the rule as a refused shop reads it.
const addressRule = "Webhookの送信先には、インターネットから到達できる公開アドレスのホストのみ登録できます" +
	"（ループバック、プライベート（RFC1918・fc00::/7）、リンクローカル（169.254.0.0/16・fe80::/10）、" +
	"マルチキャスト、未指定、CGNAT（100.64.0.0/10）のアドレスと、それらのIPv4射影アドレスは登録できません）。"

var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	cgnat       = netip.MustParsePrefix("100.64.0.0/10")
	class240    = netip.MustParsePrefix("240.0.0.0/4") // includes 255.255.255.255
	siteLocal   = netip.MustParsePrefix("fec0::/10")   // deprecated, still routed inside some sites
	v4Compat    = netip.MustParsePrefix("::/96")       // deprecated IPv4-compatible, incl. :: and ::1
	nat64       = netip.MustParsePrefix("64:ff9b::/96")
)

// classify says why a is not public, or public. IPv4 addresses inside IPv6 (mapped
// ::ffff:a.b.c.d, the NAT64 prefix) are judged by the IPv4 address they carry, since that is
// where the packets end up.
func classify(a netip.Addr) addrClass {
	a = a.WithZone("")
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	switch {
	case !a.IsValid():
		return reserved
	case a.IsUnspecified() || thisNetwork.Contains(a):
		return unspecified
	case a.IsLoopback():
		return loopback
	case a.IsPrivate() || siteLocal.Contains(a):
		return private
	case a.IsLinkLocalUnicast():
		return linkLocal
	case a.IsMulticast():
		return multicast
	case cgnat.Contains(a):
		return shared
	case class240.Contains(a) || v4Compat.Contains(a):
		return reserved
	}
	return public
}

func (p Policy) resolver() Resolver {
	if p.Resolver != nil {
		return p.Resolver
	}
	return net.DefaultResolver
}

// lookup returns host's addresses: host itself when it is an IP literal.
func (p Policy) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	ips, err := p.resolver().LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip.IP); ok {
			out = append(out, a.WithZone(ip.Zone))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lookup %s: no addresses", host)
	}
	return out, nil
}

// lookupTimeout bounds the name lookup at registration, which holds an API request.
const lookupTimeout = 5 * time.Second

// CheckURL validates an endpoint URL against the policy and returns it normalised. Only
// absolute https URLs are accepted (http too under AllowHTTP); user:password in the URL is
// refused because the URL is shown in lists and logs, where a credential must never appear
// (the signature authenticates kessai instead). Unless AllowPrivate, the host must resolve
// to public addresses only: one private address among public ones is refused too, as no
// public service publishes such a record.
func (p Policy) CheckURL(ctx context.Context, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	bad := func(msg string) (string, error) { return "", invalid("url", "url "+msg) }
	if raw == "" {
		return bad("is required")
	}
	if len(raw) > maxURL {
		return bad(fmt.Sprintf("must be at most %d characters", maxURL))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("is not a URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowHTTP:
	case u.Scheme == "http":
		return bad("は https:// で始まる必要があります。Webhookは暗号化された接続でのみ送信します（http:// は開発用の KESSAI_WEBHOOK_ALLOW_HTTP=true のときだけ登録できます）。")
	case p.AllowHTTP:
		return bad("は http:// または https:// で始まる必要があります。")
	default:
		return bad("は https:// で始まる必要があります。")
	}
	if u.Host == "" || u.Hostname() == "" {
		return bad("must name a host, as in https://shop.example.jp/kessai/webhook")
	}
	if u.User != nil {
		return bad("must not contain a user name or password")
	}
	if !p.AllowPrivate {
		host := u.Hostname()
		ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		defer cancel()
		addrs, err := p.lookup(ctx, host)
		if err != nil {
			return bad(fmt.Sprintf("のホスト %s の名前を解決できません。DNSの設定を確認してから、もう一度登録してください。", host))
		}
		_, notLiteral := netip.ParseAddr(host)
		for _, a := range addrs {
			if c := classify(a); c != public {
				if notLiteral == nil {
					return bad(fmt.Sprintf("のホスト %s は%sです。%s", host, classNames[c], addressRule))
				}
				// The resolved address is not repeated: it may be a name only the operator's
				// own DNS answers, which the shop has no business learning.
				return bad(fmt.Sprintf("のホスト %s は%sに解決されます。%s", host, classNames[c], addressRule))
			}
		}
	}
	u.Fragment = ""
	return u.String(), nil
}

// dialer connects only to addresses the policy allows. It resolves the host itself and dials
// the checked addresses as literals, and its Control checks the socket's address once more,
// so no path from URL to connect(2) skips the check.
type dialer struct {
	p Policy
	d net.Dialer
}

func newDialer(p Policy) *dialer {
	dl := &dialer{p: p, d: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}}
	if !p.AllowPrivate {
		dl.d.Control = control
	}
	return dl
}

// control runs after the address is final and before connect(2).
func control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address", ErrRefused)
	}
	if c := classify(ap.Addr()); c != public {
		return fmt.Errorf("%w: %s address", ErrRefused, c)
	}
	return nil
}

// DialContext is the http.Transport dial function. The addresses it refuses are not named in
// its error: it ends in the delivery log, and an internal name's address is not the shop's to
// learn.
func (dl *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs, err := dl.p.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	var refused addrClass
	var first error
	for _, a := range addrs {
		if !dl.p.AllowPrivate {
			if c := classify(a); c != public {
				refused = c
				continue
			}
		}
		conn, err := dl.d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	return nil, fmt.Errorf("%w: %s address", ErrRefused, refused)
}
