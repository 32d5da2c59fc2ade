package main

import (
	"bufio"
	"bytes"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/authmilter/authmilter/config"
)

const (
	contribDir  = "../../contrib"
	unitPath    = contribDir + "/systemd/authmilter.service"
	composePath = contribDir + "/docker-compose.yml"
	dockerToml  = contribDir + "/docker/authmilter.toml"
	postfixFile = contribDir + "/docker/postfix/Dockerfile"
	dockerfile  = "../../Dockerfile"
)

// unitFile is a systemd unit: section -> key -> values in file order
// (a key may repeat, as ExecReload= and SystemCallFilter= do).
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, src []byte) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, "\\") {
				t.Fatalf("%s:%d: not KEY=VALUE inside a section: %q", unitPath, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// documentedConfigPath is the path contrib/authmilter.toml tells the
// administrator to check: the path every deployment file must use.
func documentedConfigPath(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(contribDir + "/authmilter.toml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`authmilter config check -c (\S+)`).FindSubmatch(src)
	if m == nil {
		t.Fatal("contrib/authmilter.toml does not document its path with `authmilter config check -c PATH`")
	}
	return string(m[1])
}

// The systemd unit runs the daemon unprivileged and hardened, on the
// configuration path contrib/authmilter.toml documents.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	u := parseUnit(t, src)
	svc := u["Service"]
	if svc == nil || u["Unit"] == nil || u["Install"] == nil {
		t.Fatalf("sections %v, want Unit, Service and Install", u)
	}
	cfgPath := documentedConfigPath(t)
	required := map[string]string{
		"User": "authmilter", "Group": "postfix",
		"ExecStart":        "/usr/local/bin/authmilter serve -c " + cfgPath,
		"ExecStartPre":     "/usr/local/bin/authmilter config check -c " + cfgPath,
		"Restart":          "on-failure",
		"RuntimeDirectory": "authmilter", "RuntimeDirectoryMode": "0750",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "PrivateDevices": "yes",
		"ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"CapabilityBoundingSet":   "",
		"ReadOnlyPaths":           path.Dir(cfgPath),
	}
	for k, want := range required {
		got, ok := svc[k]
		if !ok || got[0] != want {
			t.Errorf("[Service] %s = %q, want %q", k, got, want)
		}
	}
	if got := svc["ExecReload"]; len(got) == 0 || got[len(got)-1] != "/bin/kill -HUP $MAINPID" {
		t.Errorf("ExecReload = %q, want it to end with /bin/kill -HUP $MAINPID", got)
	}
	if got := svc["SystemCallFilter"]; len(got) == 0 || got[0] != "@system-service" {
		t.Errorf("SystemCallFilter = %q, want @system-service first", got)
	}
	if got := u["Install"]["WantedBy"]; len(got) != 1 || got[0] != "multi-user.target" {
		t.Errorf("WantedBy = %q", got)
	}

	// systemd-analyze verify, when systemd is installed, checks every
	// directive's syntax; the binary path is replaced by a real binary,
	// which it checks for too.
	t.Run("systemd-analyze verify", func(t *testing.T) {
		sa, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze not installed")
		}
		bin, err := buildBinary()
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		unit := filepath.Join(t.TempDir(), "authmilter.service")
		if err := os.WriteFile(unit, bytes.ReplaceAll(src, []byte("/usr/local/bin/authmilter"), []byte(bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(sa, "verify", "--man=no", unit).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
}

type composeVolume struct {
	Type     string `yaml:"type"`
	Source   string `yaml:"source"`
	Target   string `yaml:"target"`
	ReadOnly bool   `yaml:"read_only"`
}

type composeService struct {
	Build struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command   []string        `yaml:"command"`
	Volumes   []composeVolume `yaml:"volumes"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

// mount returns the volume of s mounted at target.
func (s composeService) mount(target string) (composeVolume, bool) {
	for _, v := range s.Volumes {
		if v.Target == target {
			return v, true
		}
	}
	return composeVolume{}, false
}

// The compose file, its authmilter configuration, the Postfix image and
// the authmilter Dockerfile agree on the socket, its group, the
// configuration path and the health endpoint; and the configuration passes
// `authmilter config check`.
func TestDockerCompose(t *testing.T) {
	t.Parallel()
	f, err := os.Open(dockerToml)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := config.Parse(dockerToml, f)
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"config", "check", "-c", dockerToml}, nil, &stdout, &stderr); code != 0 {
		t.Errorf("authmilter config check %s: exit %d\n%s%s", dockerToml, code, stdout.String(), stderr.String())
	}
	network, sock := cfg.ListenAddr()
	if network != "unix" || cfg.SocketMode != 0o660 {
		t.Fatalf("listen %q mode %o, want a unix socket with mode 0660", cfg.Listen, cfg.SocketMode)
	}

	src, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(false)
	if err := dec.Decode(&cf); err != nil {
		t.Fatalf("%s: %v", composePath, err)
	}
	am, pf := cf.Services["authmilter"], cf.Services["postfix"]
	if len(am.Command) != 3 || am.Command[0] != "serve" || am.Command[1] != "-c" {
		t.Fatalf("authmilter command %q, want serve -c PATH", am.Command)
	}
	cfgMount, ok := am.mount(am.Command[2])
	if !ok || !cfgMount.ReadOnly || path.Clean(path.Join(contribDir, cfgMount.Source)) != path.Clean(dockerToml) {
		t.Errorf("the configuration %s is not %s mounted read-only: %+v", am.Command[2], dockerToml, cfgMount)
	}
	if keys, ok := am.mount(path.Dir(am.Command[2]) + "/keys"); !ok || !keys.ReadOnly || keys.Type != "bind" {
		t.Errorf("no read-only keys bind mount beside the configuration: %+v", am.Volumes)
	} else if _, err := os.Stat(path.Join(contribDir, keys.Source)); err != nil {
		t.Errorf("keys directory: %v", err)
	}
	amSock, ok1 := am.mount(path.Dir(sock))
	pfSock, ok2 := pf.mount(path.Dir(sock))
	if !ok1 || !ok2 || amSock.Type != "volume" || amSock.Source != pfSock.Source || amSock.ReadOnly {
		t.Errorf("socket directory %s is not one writable volume in both services:\n authmilter %+v\n postfix %+v",
			path.Dir(sock), am.Volumes, pf.Volumes)
	}
	if _, ok := cf.Volumes[amSock.Source]; !ok {
		t.Errorf("volume %q is not declared", amSock.Source)
	}
	if pf.DependsOn["authmilter"].Condition != "service_healthy" {
		t.Errorf("postfix does not wait for a healthy authmilter: %+v", pf.DependsOn)
	}

	// The Postfix image points its milters at the same socket and puts
	// postfix in the socket's group; the authmilter image runs as that
	// group and checks health where [metrics] listens.
	pfDocker, err := os.ReadFile(postfixFile)
	if err != nil {
		t.Fatal(err)
	}
	if path.Clean(path.Join(contribDir, pf.Build.Context, pf.Build.Dockerfile)) != path.Clean(postfixFile) {
		t.Errorf("postfix builds %s/%s, not %s", pf.Build.Context, pf.Build.Dockerfile, postfixFile)
	}
	for _, want := range []string{
		"#unix:" + sock + "#",
		"groupadd --system --gid " + cfg.SocketGroup + " ",
		"COPY postfix/main.cf ",
	} {
		if !bytes.Contains(pfDocker, []byte(want)) {
			t.Errorf("%s does not contain %q", postfixFile, want)
		}
	}
	amDocker, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"USER " + cfg.SocketGroup + ":" + cfg.SocketGroup + "\n",
		`CMD ["/usr/local/bin/authmilter", "health"]`,
		`VOLUME ["/etc/authmilter", "` + path.Dir(sock) + `"]`,
	} {
		if !bytes.Contains(amDocker, []byte(want)) {
			t.Errorf("Dockerfile does not contain %q", want)
		}
	}
	hu, err := url.Parse(defaultHealthURL)
	if err != nil || cfg.Metrics.Listen != hu.Host {
		t.Errorf("[metrics] listen %q, but `authmilter health` asks %s", cfg.Metrics.Listen, defaultHealthURL)
	}
}
