package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDistTarball builds the release tarball of this machine's
// architecture with `make dist` (or takes the one CAMVISOR_DIST_TARBALL
// names, its SHA256SUMS beside it), checks it against SHA256SUMS, unpacks
// it into an empty directory and runs its binary there with an empty
// environment: `version` names the version, commit and build date, and
// `check` passes the example config. The tarball holds one directory with
// exactly the release files INSTALL.md's steps install.
func TestDistTarball(t *testing.T) {
	tarball := os.Getenv("CAMVISOR_DIST_TARBALL")
	if tarball == "" {
		top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
		if err != nil {
			t.Fatalf("git: %v", err)
		}
		out := t.TempDir()
		start := time.Now()
		make := exec.Command("make", "-C", strings.TrimSpace(string(top)), "dist", "DIST="+out, "DIST_ARCHES="+runtime.GOARCH)
		if b, err := make.CombinedOutput(); err != nil {
			t.Fatalf("make dist: %v\n%s", err, b)
		}
		t.Logf("make dist DIST_ARCHES=%s took %s", runtime.GOARCH, time.Since(start).Round(time.Second))
		found, _ := filepath.Glob(filepath.Join(out, "camvisor-*-linux-"+runtime.GOARCH+".tar.gz"))
		if len(found) != 1 {
			t.Fatalf("make dist made %v", found)
		}
		tarball = found[0]
	}

	// SHA256SUMS names the tarball with its digest.
	data, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	sums, err := os.ReadFile(filepath.Join(filepath.Dir(tarball), "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(sum[:]) + "  " + filepath.Base(tarball); !slices.Contains(strings.Split(string(sums), "\n"), want) {
		t.Errorf("SHA256SUMS does not hold %q:\n%s", want, sums)
	}

	// One directory, named after the tarball, with the release files.
	name := strings.TrimSuffix(filepath.Base(tarball), ".tar.gz")
	m := regexp.MustCompile(`^camvisor-(.+)-linux-` + runtime.GOARCH + `$`).FindStringSubmatch(name)
	if m == nil {
		t.Fatalf("tarball %s: want camvisor-VERSION-linux-%s.tar.gz", name, runtime.GOARCH)
	}
	version := m[1]
	dir := t.TempDir()
	var files []string
	gz, err := gzip.NewReader(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: owner %d:%d, want 0:0", h.Name, h.Uid, h.Gid)
		}
		rel, ok := strings.CutPrefix(strings.TrimSuffix(h.Name, "/"), name)
		if !ok || strings.Contains(h.Name, "..") {
			t.Fatalf("%s is outside %s/", h.Name, name)
		}
		path := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(path, 0o755)
		case tar.TypeReg:
			files = append(files, strings.TrimPrefix(rel, "/"))
			os.MkdirAll(filepath.Dir(path), 0o755)
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode).Perm())
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(f, tr)
			f.Close()
		default:
			t.Errorf("%s: type %c, want files and directories only", h.Name, h.Typeflag)
		}
	}
	slices.Sort(files)
	want := slices.Sorted(slices.Values(releaseFiles))
	if !slices.Equal(files, want) {
		t.Errorf("the tarball holds %q, want %q", files, want)
	}

	// Its binary, in a clean directory with an empty environment.
	root := filepath.Join(dir, name)
	bin := filepath.Join(root, "camvisor")
	run := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Dir = root
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("camvisor %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := run("version")
	re := `^camvisor ` + regexp.QuoteMeta(version) + ` \(commit [0-9a-f]{40}, built \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, go1\.\S+ linux/` + runtime.GOARCH + `\)\n$`
	if !regexp.MustCompile(re).MatchString(out) {
		t.Errorf("camvisor version: %q, want like %s", out, re)
	}
	if out := run("check", "--config", "camvisor.example.yaml"); !strings.Contains(out, "camvisor.example.yaml: ok") {
		t.Errorf("camvisor check on the example config: %q", out)
	}
	if st, err := os.Stat(bin); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("the binary's mode: %v %v", st.Mode(), err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(sums)))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) != 2 || len(f[0]) != 64 {
			t.Errorf("SHA256SUMS line %q: want DIGEST  FILE", sc.Text())
		}
	}
}
