// Command kindnet is the node network agent of statebench's offline kind node image. kind's own agent
// (kindnetd) lives in a nested Go module of the kind repository that the Go module proxy does not
// serve, so this image carries a small agent that does the same job for an IPv4 cluster, driven by
// the same DaemonSet (kind's default-cni.yaml, env HOST_IP and POD_SUBNET):
//
//   - writes /etc/cni/net.d/10-kindnet.conflist for this node's pod CIDR (ptp + host-local + portmap),
//   - routes every other node's pod CIDR via that node's InternalIP,
//   - masquerades traffic from pods to addresses outside the pod subnet.
//
// It reads nodes from the API server with the pod's service account and reconciles every few seconds.
// Standard library only; it runs `ip` and `iptables` from the image.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	saDir     = "/var/run/secrets/kubernetes.io/serviceaccount"
	cniConf   = "/etc/cni/net.d/10-kindnet.conflist"
	masqChain = "KINDNET-MASQ"
	// Until the node's CNI config is written (the node is NotReady until then) the agent retries
	// every second, with short requests: the API server's Service address answers only once
	// kube-proxy has programmed it.
	startInterval = time.Second
	interval      = 5 * time.Second
)

type nodeList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			PodCIDR  string   `json:"podCIDR"`
			PodCIDRs []string `json:"podCIDRs"`
		} `json:"spec"`
		Status struct {
			Addresses []struct {
				Type    string `json:"type"`
				Address string `json:"address"`
			} `json:"addresses"`
		} `json:"status"`
	} `json:"items"`
}

type node struct {
	name, ip string
	cidrs    []string
}

func apiClient() (*http.Client, string, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, "", fmt.Errorf("KUBERNETES_SERVICE_HOST/PORT not set: not running in a pod")
	}
	ca, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return nil, "", err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, "", fmt.Errorf("no certificate in %s/ca.crt", saDir)
	}
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return c, "https://" + net.JoinHostPort(host, port), nil
}

func listNodes(c *http.Client, base string) ([]node, error) {
	token, err := os.ReadFile(filepath.Join(saDir, "token")) // re-read: projected tokens rotate
	if err != nil {
		return nil, err
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/nodes", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/nodes: %s", resp.Status)
	}
	var l nodeList
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		return nil, err
	}
	var out []node
	for _, it := range l.Items {
		n := node{name: it.Metadata.Name, cidrs: it.Spec.PodCIDRs}
		if len(n.cidrs) == 0 && it.Spec.PodCIDR != "" {
			n.cidrs = []string{it.Spec.PodCIDR}
		}
		for _, a := range it.Status.Addresses {
			if a.Type == "InternalIP" && net.ParseIP(a.Address).To4() != nil {
				n.ip = a.Address
				break
			}
		}
		out = append(out, n)
	}
	return out, nil
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// mtuOf returns the MTU of the interface that holds ip (hostNetwork: the node's own interfaces).
func mtuOf(ip string) int {
	ifs, err := net.Interfaces()
	if err != nil {
		return 1500
	}
	for _, i := range ifs {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.String() == ip {
				return i.MTU
			}
		}
	}
	return 1500
}

func cniConfig(cidr string, mtu int) []byte {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "kindnet",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"mtu":    mtu,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": "/run/cni-ipam-state",
					"routes":  []any{map[string]any{"dst": "0.0.0.0/0"}},
					"ranges":  []any{[]any{map[string]any{"subnet": cidr}}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]any{"portMappings": true}},
		},
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	return append(b, '\n')
}

func writeIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, path)
}

func ensureMasquerade(podSubnet string) error {
	if run("iptables", "-t", "nat", "-L", masqChain, "-n") != nil {
		if err := run("iptables", "-t", "nat", "-N", masqChain); err != nil {
			return err
		}
	}
	rules := [][]string{
		{"-d", podSubnet, "-j", "RETURN"},
		{"-m", "addrtype", "--dst-type", "LOCAL", "-j", "RETURN"},
		{"-j", "MASQUERADE"},
	}
	for _, r := range rules {
		if run("iptables", append([]string{"-t", "nat", "-C", masqChain}, r...)...) != nil {
			if err := run("iptables", append([]string{"-t", "nat", "-A", masqChain}, r...)...); err != nil {
				return err
			}
		}
	}
	jump := []string{"POSTROUTING", "-s", podSubnet, "-j", masqChain}
	if run("iptables", append([]string{"-t", "nat", "-C"}, jump...)...) != nil {
		return run("iptables", append([]string{"-t", "nat", "-A"}, jump...)...)
	}
	return nil
}

// reconcile returns whether this node's CNI config is in place.
func reconcile(c *http.Client, base, hostIP, podSubnet string) (bool, error) {
	nodes, err := listNodes(c, base)
	if err != nil {
		return false, err
	}
	configured := false
	for _, n := range nodes {
		if len(n.cidrs) == 0 || n.ip == "" {
			continue
		}
		var cidr string
		for _, x := range n.cidrs {
			if ip, _, err := net.ParseCIDR(x); err == nil && ip.To4() != nil {
				cidr = x
				break
			}
		}
		if cidr == "" {
			continue
		}
		if n.ip == hostIP {
			changed, err := writeIfChanged(cniConf, cniConfig(cidr, mtuOf(hostIP)))
			if err != nil {
				return false, err
			}
			if changed {
				log.Printf("wrote %s for %s (%s)", cniConf, n.name, cidr)
			}
			configured = true
			continue
		}
		if err := run("ip", "route", "replace", cidr, "via", n.ip); err != nil {
			return configured, err
		}
	}
	return configured, ensureMasquerade(podSubnet)
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	hostIP, podSubnet := os.Getenv("HOST_IP"), os.Getenv("POD_SUBNET")
	if net.ParseIP(hostIP) == nil {
		log.Fatalf("HOST_IP=%q is not an IP address", hostIP)
	}
	if _, _, err := net.ParseCIDR(podSubnet); err != nil {
		log.Fatalf("POD_SUBNET=%q: %v", podSubnet, err)
	}
	c, base, err := apiClient()
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("kindnet: node %s, pod subnet %s, API %s", hostIP, podSubnet, base)
	lastErr := ""
	configured := false
	for {
		ok, err := reconcile(c, base, hostIP, podSubnet)
		configured = configured || ok
		if err != nil {
			if err.Error() != lastErr {
				log.Printf("reconcile: %v", err)
			}
			lastErr = err.Error()
		} else if lastErr != "" {
			log.Printf("reconcile: ok again")
			lastErr = ""
		}
		if configured {
			time.Sleep(interval)
		} else {
			time.Sleep(startInterval)
		}
	}
}
