// Package harness runs upstream kube-scheduler code (k8s.io/kubernetes/pkg/scheduler) in-process against a fake
// clientset, with its profiles and extenders decoded from the KubeSchedulerConfiguration we ship, so tests and
// benchmarks exercise `wattsched extender` over HTTP exactly as a production kube-scheduler calls it.
package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/validation"
)

// ShippedConfigPath is the KubeSchedulerConfiguration users deploy, relative to the repository root.
const ShippedConfigPath = "charts/wattsched/files/kube-scheduler-config.yaml"

// ExtenderOverrides are the only fields a test may change in the shipped config: where the extender listens and
// the modes under test. Everything else (verbs, weight, profiles, plugin defaults) comes from the file as shipped.
type ExtenderOverrides struct {
	// URL replaces urlPrefix, e.g. http://127.0.0.1:PORT or https://127.0.0.1:PORT.
	URL string
	// NodeCacheCapable selects names mode (true) or full Node objects (false).
	NodeCacheCapable bool
	Ignorable        bool
	// PrioritizeOnly drops filterVerb: the documented option for clusters with no power caps or budgets, where the
	// filter passes every candidate and only its round trip is left.
	PrioritizeOnly bool
	// HTTPTimeout replaces httpTimeout when non-zero.
	HTTPTimeout time.Duration
	// CAFile, when set, switches on enableHTTPS and verifies the extender's certificate against this CA.
	CAFile string
}

// ConfigOptions selects what LoadConfig substitutes.
type ConfigOptions struct {
	// AsShipped returns the file exactly as decoded and validated, with no substitution at all.
	AsShipped bool
	// Path of the KubeSchedulerConfiguration; defaults to the shipped file.
	Path string
	// Extender, when nil, removes the extender entirely (the no-extender baseline).
	Extender *ExtenderOverrides
	// PercentageOfNodesToScore, when non-nil, replaces the global and every profile's value (0 = upstream's adaptive
	// default).
	PercentageOfNodesToScore *int32
}

// LoadConfig decodes a kubescheduler.config.k8s.io/v1 file the way kube-scheduler does (its UniversalDecoder runs
// the v1 defaulting and converts to the internal type), applies the overrides, and validates the result with
// kube-scheduler's own validation so a bad shipped file fails here as it would at kube-scheduler start-up.
func LoadConfig(repoRoot string, opts ConfigOptions) (*config.KubeSchedulerConfiguration, error) {
	path := opts.Path
	if path == "" {
		path = filepath.Join(repoRoot, ShippedConfigPath)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading scheduler config: %w", err)
	}
	obj, gvk, err := scheme.Codecs.UniversalDecoder().Decode(data, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	cfg, ok := obj.(*config.KubeSchedulerConfiguration)
	if !ok {
		return nil, fmt.Errorf("%s: decoded %s, not a KubeSchedulerConfiguration", path, gvk)
	}
	cfg.TypeMeta.APIVersion = gvk.GroupVersion().String()

	if opts.AsShipped {
		if errs := validation.ValidateKubeSchedulerConfiguration(cfg); errs != nil {
			return nil, fmt.Errorf("%s fails kube-scheduler validation: %w", path, errs)
		}
		return cfg, nil
	}
	if opts.PercentageOfNodesToScore != nil {
		cfg.PercentageOfNodesToScore = opts.PercentageOfNodesToScore
		// A profile's own value wins over the global one in kube-scheduler, so it is replaced too.
		for i := range cfg.Profiles {
			cfg.Profiles[i].PercentageOfNodesToScore = opts.PercentageOfNodesToScore
		}
	}
	if opts.Extender == nil {
		cfg.Extenders = nil
	} else {
		if len(cfg.Extenders) != 1 {
			return nil, fmt.Errorf("%s: expected exactly one extender, found %d", path, len(cfg.Extenders))
		}
		e := &cfg.Extenders[0]
		o := opts.Extender
		e.URLPrefix = o.URL
		e.NodeCacheCapable = o.NodeCacheCapable
		e.Ignorable = o.Ignorable
		if o.PrioritizeOnly {
			e.FilterVerb = ""
		}
		if o.HTTPTimeout > 0 {
			e.HTTPTimeout = metav1.Duration{Duration: o.HTTPTimeout}
		}
		if o.CAFile != "" {
			e.EnableHTTPS = true
			e.TLSConfig = &config.ExtenderTLSConfig{CAFile: o.CAFile}
		}
	}
	if errs := validation.ValidateKubeSchedulerConfiguration(cfg); errs != nil {
		return nil, fmt.Errorf("%s fails kube-scheduler validation: %w", path, errs)
	}
	return cfg, nil
}

// SchedulerName is the profile name pods must carry to be scheduled by this configuration.
func SchedulerName(cfg *config.KubeSchedulerConfiguration) string {
	return cfg.Profiles[0].SchedulerName
}
