package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"gopkg.in/yaml.v3"

	"github.com/palier-lifts/palier/atomicfile"
	"github.com/palier-lifts/palier/devcred"
	"github.com/palier-lifts/palier/natsauth"
	"github.com/palier-lifts/palier/wire"
)

const credentialsUsage = `usage:
  credentials init --out FILE
      make a new authority (operator, system and PALIER account keys), 0600
  credentials trust --authority FILE [--account-jwt FILE] [--out FILE]
      write the operator-mode leaf node's trust.conf (default stdout); on a
      running fleet pass the resolver's current account JWT (it holds the
      revocations), or the leaf will take the new one and forget them
  credentials issue --authority FILE --site SITE --cabin CABIN [--ttl 2160h] --out FILE
      sign a cabin's credential into FILE (0600), for agent provision
  credentials service --authority FILE --name NAME [--clients MQTT] [--ttl 2160h] --out FILE
      sign a service's credential (the receiver's MQTT password) into FILE
  credentials revoke --authority FILE --leaf tls://HOST:4222 [--ca FILE] ID...
      revoke credentials by public id on the leaf node: their sessions close
      at once and they are refused from then on
  credentials rotate --authority FILE --leaf tls://HOST:4222 --mqtt ssl://HOST:8883 [--ca FILE]
                     (--fleet FILE | --cabin SITE/CABIN...) [--ttl 2160h] [--resend 30s] [--timeout 30m]
      give each cabin a new credential over MQTT, deliver again to those that
      have not reported, revoke the previous credential of each that reports
`

// credentials runs "receiver credentials ...", the cabins' NATS user JWTs
// (package devcred, docs/OPERATIONS.md). It returns the exit code: 0 done,
// 1 failed, 2 usage.
func credentials(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, credentialsUsage)
		return 2
	}
	cmds := map[string]func([]string, io.Writer) error{
		"init": credInit, "trust": credTrust, "issue": credIssue, "service": credService, "revoke": credRevoke, "rotate": credRotate,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprint(stderr, credentialsUsage)
		return 2
	}
	if err := cmd(args[1:], stdout); err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprint(stderr, credentialsUsage)
			return 2
		}
		fmt.Fprintln(stderr, "credentials "+args[0]+":", err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

func credFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("credentials "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func credInit(args []string, stdout io.Writer) error {
	fs := credFlags("init")
	out := fs.String("out", "", "authority file to create")
	if fs.Parse(args) != nil || *out == "" || fs.NArg() != 0 {
		return errUsage
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("%s exists: an authority is made once (a new one orphans every credential)", *out)
	}
	a, err := devcred.NewAuthority("PALIER")
	if err != nil {
		return err
	}
	if err := a.WriteFile(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (secret: encrypt it with sops)\noperator        %s\nsystem account  %s\nPALIER account  %s  (PALIER_ACCOUNT of leaf-jwt.conf)\n",
		*out, a.OperatorPublicKey(), a.SystemPublicKey(), a.AccountPublicKey())
	return nil
}

func credTrust(args []string, stdout io.Writer) error {
	fs := credFlags("trust")
	authPath := fs.String("authority", "", "authority file")
	accPath := fs.String("account-jwt", "", "the resolver's current account JWT")
	out := fs.String("out", "", "output file (default stdout)")
	if fs.Parse(args) != nil || *authPath == "" || fs.NArg() != 0 {
		return errUsage
	}
	a, err := devcred.LoadAuthority(*authPath)
	if err != nil {
		return err
	}
	var acc string
	if *accPath != "" {
		b, err := os.ReadFile(*accPath)
		if err != nil {
			return fmt.Errorf("read account JWT: %w", err)
		}
		acc = strings.TrimSpace(string(b))
		if _, err := a.Revocations(acc); err != nil {
			return fmt.Errorf("--account-jwt %s: %w", *accPath, err)
		}
	} else if acc, err = a.AccountJWT(nil); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := a.RenderTrust(&b, acc); err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(b.Bytes())
		return err
	}
	// Public keys and signed JWTs only: readable by nats-server's group.
	if err := atomicfile.Write(*out, b.Bytes(), 0o640); err != nil {
		return fmt.Errorf("write trust: %w", err)
	}
	return nil
}

func credIssue(args []string, stdout io.Writer) error {
	fs := credFlags("issue")
	authPath := fs.String("authority", "", "authority file")
	site := fs.String("site", "", "site id")
	cabin := fs.String("cabin", "", "cabin id")
	ttl := fs.Duration("ttl", devcred.DefaultTTL, "validity")
	out := fs.String("out", "", "credential file to write (0600)")
	if fs.Parse(args) != nil || *authPath == "" || *out == "" || fs.NArg() != 0 {
		return errUsage
	}
	a, err := devcred.LoadAuthority(*authPath)
	if err != nil {
		return err
	}
	c, err := a.IssueDevice(natsauth.Device{Site: *site, Cabin: *cabin}, time.Now(), *ttl)
	if err != nil {
		return err
	}
	return writeCredential(stdout, *out, c)
}

func credService(args []string, stdout io.Writer) error {
	fs := credFlags("service")
	authPath := fs.String("authority", "", "authority file")
	name := fs.String("name", "", "service user name, e.g. palier-receiver")
	clients := fs.String("clients", "MQTT", "connection types, comma separated (MQTT, STANDARD)")
	ttl := fs.Duration("ttl", devcred.DefaultTTL, "validity")
	out := fs.String("out", "", "credential file to write (0600)")
	if fs.Parse(args) != nil || *authPath == "" || *out == "" || *name == "" || fs.NArg() != 0 {
		return errUsage
	}
	a, err := devcred.LoadAuthority(*authPath)
	if err != nil {
		return err
	}
	c, err := a.IssueService(*name, strings.Split(*clients, ","), time.Now(), *ttl)
	if err != nil {
		return err
	}
	return writeCredential(stdout, *out, c)
}

func writeCredential(stdout io.Writer, path string, c devcred.Credential) error {
	if err := atomicfile.Write(path, []byte(c.JWT+"\n"), 0o600); err != nil {
		return fmt.Errorf("write credential: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: credential %s for %s, expires %s\n", path, c.ID, c.Name, c.Expires.UTC().Format(time.RFC3339))
	return nil
}

func credRevoke(args []string, stdout io.Writer) error {
	fs := credFlags("revoke")
	authPath := fs.String("authority", "", "authority file")
	leaf := fs.String("leaf", "", "the leaf node's NATS URL, tls://host:4222")
	caPath := fs.String("ca", "", "CA of the leaf's certificate (default: the system's)")
	if fs.Parse(args) != nil || *authPath == "" || *leaf == "" || fs.NArg() == 0 {
		return errUsage
	}
	a, err := devcred.LoadAuthority(*authPath)
	if err != nil {
		return err
	}
	for _, id := range fs.Args() {
		if len(id) != 56 || id[0] != 'U' {
			return fmt.Errorf("%q is not a credential id (56 characters starting with U)", id)
		}
	}
	token, seed, err := a.SystemUser("palier-credentials", time.Now(), 10*time.Minute)
	if err != nil {
		return err
	}
	tc, err := leafTLS(*caPath)
	if err != nil {
		return err
	}
	nc, err := connectLeaf(*leaf, tc, nats.UserJWTAndSeed(token, seed))
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Revoke(ctx, nc, fs.Args(), time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked %d credentials on %s\n", fs.NArg(), *leaf)
	return nil
}

// cabinList is a repeatable --cabin site/cabin flag.
type cabinList []natsauth.Device

func (l *cabinList) String() string { return fmt.Sprint(len(*l)) }
func (l *cabinList) Set(v string) error {
	site, cabin, ok := strings.Cut(v, "/")
	if !ok {
		return fmt.Errorf("%q is not site/cabin", v)
	}
	*l = append(*l, natsauth.Device{Site: site, Cabin: cabin})
	return nil
}

func credRotate(args []string, stdout io.Writer) error {
	fs := credFlags("rotate")
	authPath := fs.String("authority", "", "authority file")
	leaf := fs.String("leaf", "", "the leaf node's NATS URL, tls://host:4222")
	mqttURL := fs.String("mqtt", "", "the leaf node's MQTT URL, ssl://host:8883")
	caPath := fs.String("ca", "", "CA of the leaf's certificate (default: the system's)")
	fleetPath := fs.String("fleet", "", "fleet file: rotate every device in it")
	var cabins cabinList
	fs.Var(&cabins, "cabin", "site/cabin to rotate (repeatable)")
	ttl := fs.Duration("ttl", devcred.DefaultTTL, "validity of the new credentials")
	resend := fs.Duration("resend", 30*time.Second, "deliver again to cabins that have not reported after this")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up on cabins that have not reported after this")
	if fs.Parse(args) != nil || *authPath == "" || *leaf == "" || *mqttURL == "" || fs.NArg() != 0 || (*fleetPath == "") == (len(cabins) == 0) {
		return errUsage
	}
	if *fleetPath != "" {
		var err error
		if cabins, err = fleetDevices(*fleetPath); err != nil {
			return err
		}
	}
	a, err := devcred.LoadAuthority(*authPath)
	if err != nil {
		return err
	}
	tc, err := leafTLS(*caPath)
	if err != nil {
		return err
	}
	now := time.Now()
	sysTok, sysSeed, err := a.SystemUser("palier-credentials", now, *timeout+10*time.Minute)
	if err != nil {
		return err
	}
	accTok, accSeed, err := a.AccountUser("palier-credentials", now, *timeout+10*time.Minute)
	if err != nil {
		return err
	}
	sys, err := connectLeaf(*leaf, tc, nats.UserJWTAndSeed(sysTok, sysSeed))
	if err != nil {
		return err
	}
	defer sys.Close()
	events, err := connectLeaf(*leaf, tc, nats.UserJWTAndSeed(accTok, accSeed))
	if err != nil {
		return err
	}
	defer events.Close()
	svc, err := a.IssueService("palier-credentials", []string{"MQTT"}, now, *timeout+10*time.Minute)
	if err != nil {
		return err
	}
	pub, err := connectMQTT(*mqttURL, tc, svc)
	if err != nil {
		return err
	}
	defer pub.Disconnect(250)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res, err := a.Rotate(ctx, devcred.RotateOptions{
		Devices: cabins, TTL: *ttl, Resend: *resend, Events: events, System: sys,
		Publish: func(ctx context.Context, topic string, payload []byte) error {
			tok := pub.Publish(topic, 1, false, payload)
			select {
			case <-tok.Done():
				return tok.Error()
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		OnReport: func(d natsauth.Device, r wire.CredentialRotatedData) {
			fmt.Fprintf(stdout, "%s/%s now on %s (previous %s)\n", d.Site, d.Cabin, r.ID, orPassword(r.Previous))
		},
	})
	fmt.Fprintf(stdout, "%d issued, %d reported, %d previous revoked\n", res.Issued, res.Reported, res.Revoked)
	if len(res.Pending) > 0 {
		return fmt.Errorf("%d cabins did not report within %s (they keep their current credential until it expires; run rotate again): %s",
			len(res.Pending), *timeout, strings.Join(res.Pending, " "))
	}
	if err != nil {
		return err
	}
	return nil
}

func orPassword(id string) string {
	if id == "" {
		return "a password"
	}
	return id
}

func leafTLS(caPath string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caPath == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(caPath)
	if err != nil {
		return nil, fmt.Errorf("read --ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca %s: no PEM certificate in it", caPath)
	}
	tc.RootCAs = pool
	return tc, nil
}

func connectLeaf(url string, tc *tls.Config, auth nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect(url, auth, nats.Secure(tc), nats.Timeout(10*time.Second), nats.Name("receiver credentials"))
	if err != nil {
		return nil, fmt.Errorf("connect to the leaf at %s: %w", url, err)
	}
	return nc, nil
}

func connectMQTT(url string, tc *tls.Config, c devcred.Credential) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker(url).SetTLSConfig(tc).SetClientID("palier_credentials_" + c.ID[len(c.ID)-8:]).
		SetUsername(c.Name).SetPassword(c.JWT).SetCleanSession(true).SetConnectTimeout(10 * time.Second)
	cl := mqtt.NewClient(o)
	tok := cl.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		return nil, fmt.Errorf("connect to the leaf's MQTT at %s: no answer", url)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect to the leaf's MQTT at %s: %w", url, err)
	}
	return cl, nil
}

// fleetDevices reads the devices of a fleet file for a rotation: their
// sites and cabins only. Once a fleet has moved to credentials its
// password hashes are gone or stale, and they do not matter here.
func fleetDevices(path string) ([]natsauth.Device, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read fleet: %w", err)
	}
	var f struct {
		Devices []natsauth.Device `yaml:"devices"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("fleet %s: %w", path, err)
	}
	for i, d := range f.Devices {
		if err := wire.ValidateID(d.Site); err != nil {
			return nil, fmt.Errorf("fleet %s: devices[%d].site %w", path, i, err)
		}
		if err := wire.ValidateID(d.Cabin); err != nil {
			return nil, fmt.Errorf("fleet %s: devices[%d].cabin %w", path, i, err)
		}
	}
	if len(f.Devices) == 0 {
		return nil, fmt.Errorf("fleet %s: no devices", path)
	}
	return f.Devices, nil
}
