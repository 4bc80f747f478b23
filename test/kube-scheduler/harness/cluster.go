package harness

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Names the extender reads from nodes (mirrors src/shared/names.ts; the harness is Go, so it cannot import them).
const (
	AnnotationPowerCurve    = "wattsched.io/power-curve"
	AnnotationPowerCapWatts = "wattsched.io/power-cap-watts"
	LabelInstanceType       = "node.kubernetes.io/instance-type"
	LabelHostname           = "kubernetes.io/hostname"
	LabelZone               = "topology.kubernetes.io/zone"
)

// NodeSpec is one simulated node. Allocatable equals capacity: the simulated kubelet reserves nothing.
type NodeSpec struct {
	Name        string
	MilliCPU    int64
	MemoryBytes int64
	MaxPods     int64
	Labels      map[string]string
	Annotations map[string]string
}

// Object is the Node as the API server would hold it: Ready, with allocatable cpu/memory/pods (the scheduler's
// NodeResourcesFit rejects a node with none of them, a pitfall of hand-built fake nodes).
func (n NodeSpec) Object() *v1.Node {
	labels := map[string]string{LabelHostname: n.Name}
	for k, v := range n.Labels {
		labels[k] = v
	}
	annotations := map[string]string{}
	for k, v := range n.Annotations {
		annotations[k] = v
	}
	res := v1.ResourceList{
		v1.ResourceCPU:    *resource.NewMilliQuantity(n.MilliCPU, resource.DecimalSI),
		v1.ResourceMemory: *resource.NewQuantity(n.MemoryBytes, resource.BinarySI),
		v1.ResourcePods:   *resource.NewQuantity(n.MaxPods, resource.DecimalSI),
	}
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, UID: types.UID("node-" + n.Name), Labels: labels, Annotations: annotations},
		Status: v1.NodeStatus{
			Capacity:    res,
			Allocatable: res.DeepCopy(),
			Conditions:  []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
			Phase:       v1.NodeRunning,
		},
	}
}

// PodSpec is one pod to schedule. MilliCPU/MemoryBytes 0 means "no request" (the scheduler, and the extender,
// then assume the 100m / 200 MiB non-zero defaults when scoring).
type PodSpec struct {
	Namespace   string
	Name        string
	MilliCPU    int64
	MemoryBytes int64
	Annotations map[string]string
	Labels      map[string]string
	// OwnerKind/OwnerName, when set, add a controller ownerReference (e.g. ReplicaSet/web-5d9c).
	OwnerKind string
	OwnerName string
}

// Object builds the Pod with the given schedulerName (the profile under test).
func (p PodSpec) Object(schedulerName string) *v1.Pod {
	ns := p.Namespace
	if ns == "" {
		ns = "default"
	}
	req := v1.ResourceList{}
	if p.MilliCPU > 0 {
		req[v1.ResourceCPU] = *resource.NewMilliQuantity(p.MilliCPU, resource.DecimalSI)
	}
	if p.MemoryBytes > 0 {
		req[v1.ResourceMemory] = *resource.NewQuantity(p.MemoryBytes, resource.BinarySI)
	}
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   ns,
			Name:        p.Name,
			UID:         types.UID(fmt.Sprintf("pod-%s-%s", ns, p.Name)),
			Labels:      p.Labels,
			Annotations: p.Annotations,
		},
		Spec: v1.PodSpec{
			SchedulerName: schedulerName,
			Containers: []v1.Container{{
				Name:      "app",
				Image:     "registry.k8s.io/pause:3.10",
				Resources: v1.ResourceRequirements{Requests: req},
			}},
		},
		Status: v1.PodStatus{Phase: v1.PodPending},
	}
	if p.OwnerKind != "" {
		controller := true
		pod.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: p.OwnerKind, Name: p.OwnerName,
			UID: types.UID("owner-" + p.OwnerName), Controller: &controller,
		}}
	}
	return pod
}

// Key is namespace/name, the key the scheduler and the extender's /explain use.
func (p PodSpec) Key() string {
	ns := p.Namespace
	if ns == "" {
		ns = "default"
	}
	return ns + "/" + p.Name
}

// PodGroup is a workload in a pod-arrival spec: Count identical pods named Prefix-0..Count-1, optionally owned by
// a ReplicaSet named after the prefix.
type PodGroup struct {
	Namespace   string
	Prefix      string
	Count       int
	MilliCPU    int64
	MemoryBytes int64
	Annotations map[string]string
	Owned       bool
}

// ExpandPods turns groups into pods, group by group, in arrival order.
func ExpandPods(groups ...PodGroup) []PodSpec {
	var out []PodSpec
	for _, g := range groups {
		for i := 0; i < g.Count; i++ {
			p := PodSpec{
				Namespace: g.Namespace, Name: fmt.Sprintf("%s-%d", g.Prefix, i),
				MilliCPU: g.MilliCPU, MemoryBytes: g.MemoryBytes,
				Annotations: g.Annotations, Labels: map[string]string{"app": g.Prefix},
			}
			if g.Owned {
				p.OwnerKind, p.OwnerName = "ReplicaSet", g.Prefix
			}
			out = append(out, p)
		}
	}
	return out
}

// Keys lists the pods' namespace/name keys.
func Keys(pods []PodSpec) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = p.Key()
	}
	return out
}
