// The values the chart is tested with: the defaults and every switch, each on in at least one case.
export interface ChartCase {
  name: string;
  values: Record<string, unknown>;
}

export const CASES: readonly ChartCase[] = [
  { name: 'defaults', values: {} },
  {
    name: 'everything on (cert-manager TLS with its own CA, monitoring, dashboard, checkpoint, host PID, Localhost seccomp, scheduler CIDRs, agents pushing to the model server)',
    values: {
      agent: { hostPID: true, checkpointHostPath: '/var/lib/wattsched', seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/wattsched-agent.json' }, push: { enabled: true } },
      extender: { config: { urlPrefix: '/wattsched', powerCurves: { byLabelValue: { 'm5.large': [100, 120, 140, 160, 180, 200, 220, 240, 260, 280, 300] } } } },
      tls: { enabled: true, certManager: { enabled: true } },
      networkPolicy: { schedulerCIDRs: ['10.0.0.0/24'] },
      monitoring: {
        serviceMonitor: { enabled: true },
        podMonitor: { enabled: true },
        prometheusRules: { enabled: true },
        grafanaDashboard: { enabled: true },
      },
    },
  },
  {
    name: 'TLS from a Secret you made (the self-signed path), extender ClusterIP pinned',
    values: { tls: { enabled: true, secretName: 'my-extender-tls' }, extender: { service: { clusterIP: '10.96.0.200' } } },
  },
  {
    name: 'cert-manager with an existing ClusterIssuer',
    values: { tls: { enabled: true, certManager: { enabled: true, issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' } } } },
  },
  {
    name: 'minimal (no second scheduler, no policies, no PVC, no agent, no metrics scrapers)',
    values: {
      agent: { enabled: false },
      modelServer: { persistence: { enabled: false } },
      scheduler: { second: { enabled: false }, defaultScheduler: { renderConfig: false } },
      networkPolicy: { enabled: false, metricsFrom: [] },
    },
  },
  {
    name: 'model server token from a Secret you made, agents pushing with it',
    values: { agent: { push: { enabled: true } }, modelServer: { auth: { existingSecret: 'my-model-token' } } },
  },
  {
    name: 'workload history from Prometheus with a bearer token Secret',
    values: { extender: { prometheusProfiles: { enabled: true, url: 'http://prometheus-operated.monitoring.svc:9090', bearerTokenSecret: 'prom-reader' } } },
  },
  {
    name: 'policies with no peers at all',
    values: { scheduler: { second: { enabled: false } }, networkPolicy: { metricsFrom: [] } },
  },
];
