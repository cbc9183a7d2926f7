package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestNginxConf(t *testing.T) {
	shipped, err := os.ReadFile(ShippedNginxConf())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	t.Run("Shipped", func(t *testing.T) {
		conf, err := NginxConf(string(shipped), "127.0.0.1:8081", []string{"127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"}, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"    server 127.0.0.1:1001;\n    server 127.0.0.1:1002;\n    server 127.0.0.1:1003;\n}",
			"listen 127.0.0.1:8081;",
			"ip_hash;",
			"proxy_set_header Host $http_host;",
			filepath.Join(dir, "access.log"),
		} {
			if !strings.Contains(conf, want) {
				t.Errorf("generated configuration lacks %q:\n%s", want, conf)
			}
		}
		if upstreamServerRE.MatchString(conf) || listenRE.MatchString(conf) {
			t.Errorf("generated configuration still has compose's upstream servers or listen 80:\n%s", conf)
		}
		// Every other line of the shipped file is there, in order.
		confLines := strings.Split(conf, "\n")
		i := 0
		for _, l := range strings.Split(string(shipped), "\n") {
			if upstreamServerRE.MatchString(l) || listenRE.MatchString(l) {
				continue
			}
			for i < len(confLines) && confLines[i] != l {
				i++
			}
			if i == len(confLines) {
				t.Fatalf("generated configuration lacks line %q of deploy/nginx.conf (or has it out of order)", l)
			}
			i++
		}
	})

	for name, in := range map[string]string{
		"NoUpstreamServers": "upstream sockgate { ip_hash; }\nserver { listen 80; }\n",
		"NoListen":          "upstream sockgate { ip_hash;\n    server sockgate-1:3000;\n}\nserver { listen 8080; }\n",
		"TwoListens":        "upstream sockgate {\n    server sockgate-1:3000;\n}\nserver {\n    listen 80;\n}\nserver {\n    listen 80;\n}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NginxConf(in, "127.0.0.1:1", []string{"127.0.0.1:2"}, dir); err == nil {
				t.Fatal("no error")
			}
		})
	}

	// nginx itself accepts the generated configuration (nginx -t).
	t.Run("Valid", func(t *testing.T) {
		bin := lookBinary(t, "nginx", "nginx")
		for _, d := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		conf, err := NginxConf(string(shipped), "127.0.0.1:8081", []string{"127.0.0.1:1001", "127.0.0.1:1002"}, dir)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-t", "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"),
			"-g", "pid "+filepath.Join(dir, "nginx.pid")+";").CombinedOutput()
		if err != nil {
			t.Fatalf("nginx -t: %v\n%s", err, out)
		}
	})
}
