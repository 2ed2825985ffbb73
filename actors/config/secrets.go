package config

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Secrets outside the file: any string value may name environment
// variables as ${NAME} (or ${NAME:-default}), and a camera's password may
// come from a file (password_file: a systemd credential, found in
// $CREDENTIALS_DIRECTORY when the path is relative and that is set; a
// Docker secret by its absolute path). Their values are
// used and never shown: Redacted prints ${NAME} and the file's path.

// envRef is ${NAME} or ${NAME:-default}, or $${...}, which stands for a
// literal ${...}.
var envRef = regexp.MustCompile(`\$(\$?)\{([^}]*)\}`)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// splitRef reads the inside of ${...}: a variable's name and, after ":-",
// the default used when the variable is unset or empty (as a shell does).
func splitRef(ref string) (name, def string, hasDefault bool) {
	name, def, hasDefault = strings.Cut(ref, ":-")
	return name, def, hasDefault
}

// expandEnv replaces every ${NAME} in s with the variable's value, and
// every ${NAME:-default} with the value, or default when the variable is
// unset or empty. An unset variable without a default is an error (a
// password left empty by a typo would only show as a camera refusing
// camvisor); a set but empty one expands to "".
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var errs []error
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := envRef.FindStringSubmatch(ref)
		if m[1] == "$" {
			return "${" + m[2] + "}"
		}
		name, def, hasDefault := splitRef(m[2])
		if !envName.MatchString(name) {
			errs = append(errs, fmt.Errorf("${%s} is not a variable name (letters, digits and _, not starting with a digit, then :-default if you want one; write $${ for a literal ${)", m[2]))
			return ""
		}
		v, ok := lookup(name)
		switch {
		case hasDefault && v == "":
			return def
		case !ok:
			errs = append(errs, fmt.Errorf("environment variable %s is not set (used as ${%s}; ${%s:-default} gives a default)", name, name, name))
		}
		return v
	})
	if len(errs) > 0 {
		return "", errs[0]
	}
	return out, nil
}

// hasEnvRef reports whether s names an environment variable (${NAME}; a
// literal $${...} does not).
func hasEnvRef(s string) bool {
	for _, m := range envRef.FindAllStringSubmatch(s, -1) {
		if m[1] == "" {
			return true
		}
	}
	return false
}

// envValues are the values of the variables s names, those long enough
// to be hidden in a message without hiding the message (a secret of one
// to three characters protects nothing anyway). A default written in the
// file is no secret of the environment's.
func envValues(s string) []string {
	var out []string
	for _, m := range envRef.FindAllStringSubmatch(s, -1) {
		name, _, _ := splitRef(m[2])
		if v, ok := os.LookupEnv(name); ok && m[1] == "" && len(v) >= 4 {
			out = append(out, v)
		}
	}
	return out
}

// readPasswordFiles puts each camera's password_file into its URLs: into
// url always, and into snapshot_url and detect_url when they name a user
// without a password. The file's content is the password, without its
// trailing newline.
func (c *Config) readPasswordFiles(dir string) error {
	var errs []error
	for i := range c.Subnets {
		for j := range c.Subnets[i].Cameras {
			cam := &c.Subnets[i].Cameras[j]
			if cam.PasswordFile == "" {
				continue
			}
			at := fmt.Sprintf("subnets[%d].cameras[%d].password_file", i, j)
			path, where := passwordPath(cam.PasswordFile, dir)
			data, err := readSmall(path, maxPasswordFile)
			if err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				errs = append(errs, fmt.Errorf("%s: cannot read %q%s: %v", at, cam.PasswordFile, where, err))
				continue
			}
			pw := strings.TrimRight(string(data), "\r\n")
			if pw == "" {
				errs = append(errs, fmt.Errorf("%s: %q is empty", at, cam.PasswordFile))
				continue
			}
			u, err := withPassword(cam.URL, pw, true)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", at, err))
				continue
			}
			cam.URL = u
			if cam.SnapshotURL, err = withPassword(cam.SnapshotURL, pw, false); err != nil {
				errs = append(errs, fmt.Errorf("%s: snapshot_url: %w", at, err))
			}
			if cam.DetectURL, err = withPassword(cam.DetectURL, pw, false); err != nil {
				errs = append(errs, fmt.Errorf("%s: detect_url: %w", at, err))
			}
		}
	}
	return errors.Join(errs...)
}

// maxPasswordFile bounds a password_file: a password is short, and a path
// that names /dev/zero or a log must not hang or fill the loader.
const maxPasswordFile = 4096

// readSmall reads the file at path, refusing one longer than limit bytes.
func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("longer than %d bytes: not a password", limit)
	}
	return data, nil
}

// CredentialsDirectory is the environment variable systemd sets for a
// service with LoadCredential= (the directory of its credentials, readable
// by the service alone, e.g. /run/credentials/camvisor.service).
const CredentialsDirectory = "CREDENTIALS_DIRECTORY"

// passwordPath is where a password_file is read: an absolute path as it
// is; a relative one in $CREDENTIALS_DIRECTORY when that is set (the
// credential of that name), else in the config file's directory. where
// says which, for an error message.
func passwordPath(file, dir string) (path, where string) {
	if filepath.IsAbs(file) {
		return file, ""
	}
	if creds := os.Getenv(CredentialsDirectory); creds != "" {
		return filepath.Join(creds, file), fmt.Sprintf(" in $%s (%s)", CredentialsDirectory, creds)
	}
	return filepath.Join(dir, file), fmt.Sprintf(" next to the config (%s)", dir)
}

// withPassword sets the password of raw's user. For the camera's url it
// is required (a user and no password of its own); for its other URLs it
// applies only when they name a user without a password.
func withPassword(raw, pw string, required bool) (string, error) {
	if raw == "" {
		return raw, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw, nil // Validate names the field
	}
	switch {
	case u.User == nil || u.User.Username() == "":
		if required {
			return "", errors.New("the url names no user for the password (write rtsp://USER@host/...)")
		}
		return raw, nil
	default:
		if _, has := u.User.Password(); has {
			if required {
				return "", errors.New("the url has a password of its own: give it one way only")
			}
			return raw, nil
		}
	}
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String(), nil
}
