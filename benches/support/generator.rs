//! A deterministic generator of realistic manifest repositories for the benchmarks and for
//! `scripts/bench.sh`.
//!
//! `generate(dir, n)` writes `n` objects shaped like real applications: Deployments (30 %,
//! with `envFrom` configMapRef, env `secretKeyRef`s, ConfigMap and Secret volumes and a
//! `serviceAccountName`), Services (25 %), ConfigMaps (20 %, with literal-block files),
//! Secrets (10 %), Crossplane claims (10 %, whose `writeConnectionSecretToRef` Secrets the
//! Deployments read), and the remaining 5 % Ingresses, HorizontalPodAutoscalers,
//! PodDisruptionBudgets and the ServiceAccounts the Deployments run as. Every reference points
//! at an object of the input, so a `--pr` render rewrites all of them and warns about none.
//! Names are unique per kind. Documents carry Helm-style `# Source:` comments and the quoting
//! hazards real charts have (`'yes'`, `'on'`, `'0755'`, `'1.10'`).
//!
//! Objects go into files of [`OBJECTS_PER_FILE`] under `app/apps/group-NN/`, with a
//! `gitops.yaml` in `app/` (environments dev and prod, previews from dev): `app/` is the
//! directory kubectl-gitops renders ([`RENDERED`]). Beside it, not in it, sits a
//! `kustomization.yaml` that does the same job as a `--pr 123` render, for comparison with
//! kustomize: a directory holding a kustomization is built with kustomize by kubectl-gitops
//! itself, so the kustomization must not be in the rendered directory.
//!
//! The same `n` always gives the same bytes.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// Objects in one generated file.
pub const OBJECTS_PER_FILE: usize = 50;
/// Files in one `apps/group-NN/` folder.
const FILES_PER_GROUP: usize = 20;
/// The application name of the generated gitops.yaml.
pub const APP: &str = "bench-shop";
/// The pull request the kustomize overlay imitates.
pub const PR: &str = "123";
/// The directory, under the generated repository, that kubectl-gitops renders.
pub const RENDERED: &str = "app";

/// What [`generate`] wrote.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub objects: usize,
    pub files: usize,
    /// Bytes of manifests (gitops.yaml and kustomization.yaml not counted).
    pub bytes: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Deployment,
    Service,
    ConfigMap,
    Secret,
    Claim,
    /// Ingress, HPA, PDB, ServiceAccount in turn.
    Other,
}

/// One period of twenty objects: 6 Deployments, 5 Services, 4 ConfigMaps, 2 Secrets, 2 claims
/// and 1 other, interleaved the way files of real repositories mix them.
const PATTERN: [Kind; 20] = {
    use Kind::*;
    [
        Deployment, Service, ConfigMap, Deployment, Service, Secret, Deployment, Claim, ConfigMap,
        Service, Deployment, Service, ConfigMap, Deployment, Claim, Secret, Service, Deployment,
        ConfigMap, Other,
    ]
};

const WORDS: &[&str] = &[
    "checkout",
    "cart",
    "payments",
    "catalog",
    "search",
    "auth",
    "orders",
    "inventory",
    "shipping",
    "notifications",
    "recommendations",
    "reviews",
    "pricing",
    "billing",
    "profile",
    "gateway",
    "ledger",
    "invoices",
    "media",
    "analytics",
    "loyalty",
    "returns",
    "tax",
];
const ROLES: &[&str] = &["api", "worker", "web", "consumer", "scheduler"];

/// How many objects of each kind a stream of `n` holds.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    deployments: usize,
    services: usize,
    configmaps: usize,
    secrets: usize,
    claims: usize,
    ingresses: usize,
    hpas: usize,
    pdbs: usize,
    service_accounts: usize,
}

impl Counts {
    fn of(n: usize) -> Counts {
        let mut c = Counts::default();
        let mut others = 0;
        for i in 0..n {
            match PATTERN[i % PATTERN.len()] {
                Kind::Deployment => c.deployments += 1,
                Kind::Service => c.services += 1,
                Kind::ConfigMap => c.configmaps += 1,
                Kind::Secret => c.secrets += 1,
                Kind::Claim => c.claims += 1,
                Kind::Other => {
                    match others % 4 {
                        0 => c.ingresses += 1,
                        1 => c.hpas += 1,
                        2 => c.pdbs += 1,
                        _ => c.service_accounts += 1,
                    }
                    others += 1;
                }
            }
        }
        c
    }
}

/// The application name behind index `k`: `checkout-api-0`, `cart-api-1`, ...
fn app_name(k: usize) -> String {
    let word = WORDS[k % WORDS.len()];
    let role = ROLES[(k / WORDS.len()) % ROLES.len()];
    format!("{word}-{role}-{k}")
}

fn claim_name(k: usize) -> String {
    format!(
        "{}-{}",
        app_name(k),
        if k.is_multiple_of(2) { "db" } else { "cache" }
    )
}

/// The Secret Crossplane writes for claim `k`.
fn claim_secret(k: usize) -> String {
    format!("{}-conn", claim_name(k))
}

/// A deterministic pseudo-random number (splitmix64).
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `len` characters of base64 alphabet, derived from `seed`.
fn b64ish(seed: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(len + 2);
    let mut x = seed;
    for i in 0..len {
        if i % 10 == 0 {
            x = mix(x ^ i as u64);
        }
        s.push(ALPHABET[(x & 63) as usize] as char);
        x >>= 6;
    }
    s.push_str("==");
    s
}

fn hex(seed: u64, len: usize) -> String {
    let mut s = String::with_capacity(len);
    let mut x = seed;
    while s.len() < len {
        x = mix(x);
        let _ = write!(s, "{x:016x}");
    }
    s.truncate(len);
    s
}

/// Appends formatted text to a String (writing to a String cannot fail).
macro_rules! w {
    ($s:expr, $($t:tt)*) => {{
        let _ = write!($s, $($t)*);
    }};
}

fn labels(s: &mut String, indent: &str, name: &str, component: &str) {
    w!(s, "{indent}labels:\n");
    w!(s, "{indent}  app.kubernetes.io/name: {name}\n");
    w!(s, "{indent}  app.kubernetes.io/component: {component}\n");
    w!(s, "{indent}  app.kubernetes.io/part-of: shop\n");
    w!(s, "{indent}  app.kubernetes.io/managed-by: Helm\n");
}

fn deployment(s: &mut String, k: usize, c: &Counts) {
    let name = app_name(k);
    let r = mix(k as u64 ^ 0xd1);
    let cm = app_name(k % c.configmaps.max(1));
    let conn = claim_secret(k % c.claims.max(1));
    // Without Secrets of its own (the one-file shape), the API token comes from the claim's.
    let secret = if c.secrets == 0 {
        conn.clone()
    } else {
        app_name(k % c.secrets)
    };
    w!(s, "# Source: {name}/templates/deployment.yaml\n");
    w!(
        s,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n"
    );
    labels(s, "  ", &name, "api");
    w!(
        s,
        "  annotations:\n    deployment.kubernetes.io/revision: \"{}\"\n",
        r % 40 + 1
    );
    w!(
        s,
        "spec:\n  replicas: {}\n  revisionHistoryLimit: 5\n",
        r % 5 + 1
    );
    w!(
        s,
        "  selector:\n    matchLabels:\n      app.kubernetes.io/name: {name}\n"
    );
    w!(
        s,
        "  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 25%\n      maxUnavailable: 0\n"
    );
    w!(s, "  template:\n    metadata:\n");
    labels(s, "      ", &name, "api");
    w!(
        s,
        "      annotations:\n        checksum/config: {}\n",
        hex(r, 64)
    );
    w!(
        s,
        "        prometheus.io/scrape: 'true'\n        prometheus.io/port: '9090'\n"
    );
    w!(s, "    spec:\n");
    if c.service_accounts > 0 {
        w!(
            s,
            "      serviceAccountName: {}\n",
            app_name(k % c.service_accounts)
        );
    }
    w!(s, "      terminationGracePeriodSeconds: 30\n");
    w!(
        s,
        "      securityContext:\n        runAsNonRoot: true\n        runAsUser: 10001\n        fsGroup: 10001\n        seccompProfile:\n          type: RuntimeDefault\n"
    );
    w!(s, "      containers:\n        - name: app\n");
    w!(
        s,
        "          image: registry.example.com/shop/{}:1.{}.{}\n",
        WORDS[k % WORDS.len()],
        r % 30,
        (r >> 8) % 10
    );
    w!(s, "          imagePullPolicy: IfNotPresent\n");
    w!(
        s,
        "          args: [\"--config=/etc/app/application.yaml\", \"--log-format=json\"]\n"
    );
    w!(
        s,
        "          ports:\n            - name: http\n              containerPort: 8080\n              protocol: TCP\n            - name: metrics\n              containerPort: 9090\n              protocol: TCP\n"
    );
    w!(
        s,
        "          envFrom:\n            - configMapRef:\n                name: {cm}\n"
    );
    w!(s, "          env:\n");
    w!(
        s,
        "            - name: FEATURE_CHECKOUT_V2\n              value: 'yes'\n"
    );
    w!(
        s,
        "            - name: TRACING\n              value: \"on\"\n"
    );
    w!(
        s,
        "            - name: UMASK\n              value: '0755'\n"
    );
    w!(
        s,
        "            - name: API_VERSION\n              value: '1.10'\n"
    );
    for (var, key) in [
        ("DB_HOST", "endpoint"),
        ("DB_PORT", "port"),
        ("DB_PASSWORD", "password"),
    ] {
        w!(
            s,
            "            - name: {var}\n              valueFrom:\n                secretKeyRef:\n                  name: {conn}\n                  key: {key}\n"
        );
    }
    w!(
        s,
        "            - name: API_TOKEN\n              valueFrom:\n                secretKeyRef:\n                  name: {secret}\n                  key: api-token\n"
    );
    w!(
        s,
        "            - name: LOG_LEVEL\n              valueFrom:\n                configMapKeyRef:\n                  name: {cm}\n                  key: LOG_LEVEL\n                  optional: true\n"
    );
    w!(
        s,
        "            - name: POD_NAME\n              valueFrom:\n                fieldRef:\n                  fieldPath: metadata.name\n"
    );
    w!(
        s,
        "          resources:\n            requests:\n              cpu: {}m\n              memory: {}Mi\n            limits:\n              memory: {}Mi\n",
        50 + r % 450,
        64 << (r % 4),
        128 << (r % 4)
    );
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        w!(
            s,
            "          {probe}:\n            httpGet:\n              path: {path}\n              port: http\n            periodSeconds: 10\n            timeoutSeconds: 2\n            failureThreshold: 3\n"
        );
    }
    w!(
        s,
        "          securityContext:\n            allowPrivilegeEscalation: false\n            readOnlyRootFilesystem: true\n            capabilities:\n              drop: [\"ALL\"]\n"
    );
    w!(
        s,
        "          volumeMounts:\n            - name: config\n              mountPath: /etc/app\n              readOnly: true\n            - name: db\n              mountPath: /var/run/secrets/db\n              readOnly: true\n            - name: tmp\n              mountPath: /tmp\n"
    );
    w!(s, "      volumes:\n");
    w!(
        s,
        "        - name: config\n          configMap:\n            name: {cm}\n            defaultMode: 0444\n"
    );
    w!(
        s,
        "        - name: db\n          secret:\n            secretName: {conn}\n"
    );
    w!(
        s,
        "        - name: tmp\n          emptyDir:\n            sizeLimit: 64Mi\n"
    );
}

fn service(s: &mut String, k: usize, c: &Counts) {
    let name = app_name(k);
    let target = app_name(k % c.deployments.max(1));
    w!(s, "# Source: {name}/templates/service.yaml\n");
    w!(
        s,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n"
    );
    labels(s, "  ", &name, "api");
    if k.is_multiple_of(4) {
        w!(
            s,
            "  annotations:\n    service.beta.kubernetes.io/aws-load-balancer-internal: \"true\"\n"
        );
    }
    w!(
        s,
        "spec:\n  type: ClusterIP\n  selector:\n    app.kubernetes.io/name: {target}\n"
    );
    w!(
        s,
        "  ports:\n    - name: http\n      port: 80\n      targetPort: http\n      protocol: TCP\n    - name: metrics\n      port: 9090\n      targetPort: metrics\n"
    );
}

fn configmap(s: &mut String, k: usize) {
    let name = app_name(k);
    let r = mix(k as u64 ^ 0xc0);
    w!(s, "# Source: {name}/templates/configmap.yaml\n");
    w!(
        s,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
    );
    labels(s, "  ", &name, "config");
    w!(
        s,
        "data:\n  LOG_LEVEL: info\n  HTTP_PORT: \"8080\"\n  ENABLE_CACHE: 'yes'\n  CACHE_TTL: 5m\n  RATIO: '1.10'\n  FILE_MODE: '0755'\n"
    );
    w!(
        s,
        "  application.yaml: |\n    server:\n      port: 8080\n      shutdown: graceful\n    shop:\n      name: {}\n      currency: EUR\n      features:\n        checkout-v2: on\n        wishlist: off\n      upstreams:\n",
        WORDS[k % WORDS.len()]
    );
    for j in 0..3 {
        w!(
            s,
            "        - http://{}.svc.cluster.local:80\n",
            app_name((k + j * 7) % 1000)
        );
    }
    w!(s, "    logging:\n      level: info\n      format: json\n");
    if k.is_multiple_of(2) {
        w!(
            s,
            "  nginx.conf: |\n    worker_processes auto;\n    events {{ worker_connections 1024; }}\n    http {{\n      server {{\n        listen 8081;\n        location / {{\n          proxy_pass http://127.0.0.1:8080;\n          proxy_set_header Host $host;\n        }}\n        location /static/ {{ root /srv; expires 7d; }}\n      }}\n    }}\n"
        );
    } else {
        w!(
            s,
            "  entrypoint.sh: |-\n    #!/bin/sh\n    set -eu\n    echo \"starting $HOSTNAME\"\n    exec /app/server --config /etc/app/application.yaml \"$@\"\n"
        );
    }
    w!(
        s,
        "  release-notes.txt: >\n    Release {}.{} of the shop service.\n    Folded text keeps its own lines.\n",
        r % 9,
        r % 31
    );
}

fn secret(s: &mut String, k: usize) {
    let name = app_name(k);
    let r = mix(k as u64 ^ 0x5e);
    w!(s, "# Source: {name}/templates/secret.yaml\n");
    w!(
        s,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n"
    );
    labels(s, "  ", &name, "config");
    w!(s, "type: Opaque\ndata:\n");
    w!(s, "  api-token: {}\n", b64ish(r, 42));
    w!(s, "  webhook-secret: {}\n", b64ish(r ^ 1, 30));
    w!(s, "  tls.key: {}\n", b64ish(r ^ 2, 120));
}

fn claim(s: &mut String, k: usize) {
    let name = claim_name(k);
    let app = app_name(k);
    if k.is_multiple_of(2) {
        w!(s, "# Source: {app}/templates/database.yaml\n");
        w!(
            s,
            "apiVersion: database.platform.example.org/v1alpha1\nkind: PostgreSQLInstance\nmetadata:\n  name: {name}\n"
        );
        labels(s, "  ", &app, "database");
        w!(
            s,
            "spec:\n  parameters:\n    storageGB: {}\n    version: \"16\"\n    instanceClass: db.t4g.medium\n    backupRetentionDays: 7\n    deletionProtection: 'yes'\n",
            20 + k % 100
        );
    } else {
        w!(s, "# Source: {app}/templates/cache.yaml\n");
        w!(
            s,
            "apiVersion: cache.platform.example.org/v1alpha1\nkind: RedisInstance\nmetadata:\n  name: {name}\n"
        );
        labels(s, "  ", &app, "cache");
        w!(
            s,
            "spec:\n  parameters:\n    version: \"7.2\"\n    memoryGb: 1\n    transitEncryption: true\n    evictionPolicy: allkeys-lru\n"
        );
    }
    w!(
        s,
        "  compositionSelector:\n    matchLabels:\n      provider: aws\n      tier: small\n"
    );
    w!(
        s,
        "  writeConnectionSecretToRef:\n    name: {}\n",
        claim_secret(k)
    );
}

fn ingress(s: &mut String, k: usize, c: &Counts) {
    let name = app_name(k);
    let tls = app_name(k % c.secrets.max(1));
    let word = WORDS[k % WORDS.len()];
    w!(s, "# Source: {name}/templates/ingress.yaml\n");
    w!(
        s,
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n"
    );
    labels(s, "  ", &name, "edge");
    w!(
        s,
        "  annotations:\n    cert-manager.io/cluster-issuer: letsencrypt\n    nginx.ingress.kubernetes.io/proxy-body-size: 10m\n"
    );
    w!(
        s,
        "spec:\n  ingressClassName: nginx\n  tls:\n    - hosts:\n        - {word}-{k}.shop.example.com\n      secretName: {tls}\n  rules:\n    - host: {word}-{k}.shop.example.com\n      http:\n        paths:\n"
    );
    for (j, path) in ["/", "/api"].iter().enumerate() {
        let svc = app_name((k * 3 + j) % c.services.max(1));
        w!(
            s,
            "          - path: {path}\n            pathType: Prefix\n            backend:\n              service:\n                name: {svc}\n                port:\n                  name: http\n"
        );
    }
}

fn hpa(s: &mut String, k: usize, c: &Counts) {
    let name = app_name(k);
    let target = app_name(k % c.deployments.max(1));
    w!(s, "# Source: {name}/templates/hpa.yaml\n");
    w!(
        s,
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {name}\n"
    );
    labels(s, "  ", &name, "api");
    w!(
        s,
        "spec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: {target}\n  minReplicas: 2\n  maxReplicas: 10\n"
    );
    w!(
        s,
        "  metrics:\n    - type: Resource\n      resource:\n        name: cpu\n        target:\n          type: Utilization\n          averageUtilization: 70\n"
    );
}

fn pdb(s: &mut String, k: usize, c: &Counts) {
    let name = app_name(k);
    let target = app_name(k % c.deployments.max(1));
    w!(s, "# Source: {name}/templates/pdb.yaml\n");
    w!(
        s,
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: {name}\n"
    );
    labels(s, "  ", &name, "api");
    w!(
        s,
        "spec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: {target}\n"
    );
}

fn service_account(s: &mut String, k: usize) {
    let name = app_name(k);
    w!(s, "# Source: {name}/templates/serviceaccount.yaml\n");
    w!(
        s,
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n"
    );
    labels(s, "  ", &name, "api");
    w!(
        s,
        "  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/{name}\n"
    );
    w!(s, "automountServiceAccountToken: false\n");
}

/// The `n` documents, in input order, each ending with a newline and without `---`.
pub fn documents(n: usize) -> Vec<String> {
    let c = Counts::of(n);
    let mut next = [0usize; 9];
    let mut others = 0;
    let mut docs = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = String::with_capacity(4096);
        let slot = match PATTERN[i % PATTERN.len()] {
            Kind::Deployment => 0,
            Kind::Service => 1,
            Kind::ConfigMap => 2,
            Kind::Secret => 3,
            Kind::Claim => 4,
            Kind::Other => {
                others += 1;
                5 + (others - 1) % 4
            }
        };
        let k = next[slot];
        next[slot] += 1;
        match slot {
            0 => deployment(&mut s, k, &c),
            1 => service(&mut s, k, &c),
            2 => configmap(&mut s, k),
            3 => secret(&mut s, k),
            4 => claim(&mut s, k),
            5 => ingress(&mut s, k, &c),
            6 => hpa(&mut s, k, &c),
            7 => pdb(&mut s, k, &c),
            _ => service_account(&mut s, k),
        }
        docs.push(s);
    }
    docs
}

/// The documents of [`documents`] as one stream, as `cat` of the generated files would give.
pub fn stream(n: usize) -> String {
    documents(n).join("---\n")
}

/// The generated gitops.yaml (DESIGN.md §3).
pub fn gitops_yaml() -> String {
    format!(
        "# Generated by benches/support/generator.rs.\n\
         app: {APP}\n\
         environments:\n\
         \x20 dev:\n\
         \x20   namespace: {APP}-dev\n\
         \x20   labels:\n\
         \x20     team: payments\n\
         \x20   claims:\n\
         \x20     compositionSelector:\n\
         \x20       matchLabels:\n\
         \x20         tier: small\n\
         \x20 prod:\n\
         \x20   namespace: {APP}\n\
         \x20   protect: true\n\
         \x20   labels:\n\
         \x20     team: payments\n\
         \x20   claims:\n\
         \x20     compositionSelector:\n\
         \x20       matchLabels:\n\
         \x20         tier: ha\n\
         preview:\n\
         \x20 from: dev\n"
    )
}

/// A kustomization that does what `render --pr 123` does with the generated gitops.yaml:
/// namespace, name suffix, identity labels (the pr label also on selectors) and dev's label.
fn kustomization(files: &[String]) -> String {
    let mut s = String::new();
    w!(
        s,
        "# Generated by benches/support/generator.rs: kustomize's equivalent of `render --pr {PR}`.\n"
    );
    w!(
        s,
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    );
    w!(s, "namespace: {APP}-pr-{PR}\nnameSuffix: -pr-{PR}\n");
    w!(s, "labels:\n");
    w!(
        s,
        "  - pairs:\n      kubectl-gitops.io/app: {APP}\n      kubectl-gitops.io/env: dev\n      team: payments\n    includeTemplates: true\n"
    );
    w!(
        s,
        "  - pairs:\n      kubectl-gitops.io/pr: \"{PR}\"\n    includeSelectors: true\n"
    );
    w!(s, "resources:\n");
    for f in files {
        w!(s, "  - {f}\n");
    }
    s
}

/// The second shape of the performance bar (issue 12): one file of `sets` × (ConfigMap,
/// Deployment, Service, ServiceAccount, claim), each Deployment reading its ConfigMap, running
/// as its ServiceAccount and reading its claim's connection Secret, each Service selecting its
/// Deployment. One large file cannot be parsed in parallel, and it holds more, smaller objects
/// than [`generate`]'s. Written into `dir/app/all.yaml` with gitops.yaml beside it, and the
/// equivalent kustomization in `dir`.
pub fn generate_one_file(dir: &Path, sets: usize) -> io::Result<Stats> {
    let c = Counts {
        deployments: sets,
        services: sets,
        configmaps: sets,
        claims: sets,
        service_accounts: sets,
        ..Counts::default()
    };
    let mut docs: Vec<String> = Vec::with_capacity(sets * 5);
    for k in 0..sets {
        let mut push = |write: &dyn Fn(&mut String)| {
            let mut s = String::with_capacity(2048);
            write(&mut s);
            docs.push(s);
        };
        push(&|s| configmap(s, k));
        push(&|s| deployment(s, k, &c));
        push(&|s| service(s, k, &c));
        push(&|s| service_account(s, k));
        push(&|s| claim(s, k));
    }
    let rel = format!("{RENDERED}/all.yaml");
    let path = dir.join(&rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let text = docs.join("---\n");
    std::fs::write(&path, &text)?;
    std::fs::write(dir.join(RENDERED).join("gitops.yaml"), gitops_yaml())?;
    std::fs::write(dir.join("kustomization.yaml"), kustomization(&[rel]))?;
    Ok(Stats {
        objects: docs.len(),
        files: 1,
        bytes: text.len(),
    })
}

/// Writes a repository of `n` objects into `dir` (which must exist): the manifests and
/// gitops.yaml in `dir/app` ([`RENDERED`]), the kustomization in `dir`.
pub fn generate(dir: &Path, n: usize) -> io::Result<Stats> {
    let docs = documents(n);
    let mut stats = Stats {
        objects: n,
        ..Stats::default()
    };
    let mut names = Vec::new();
    for (f, chunk) in docs.chunks(OBJECTS_PER_FILE).enumerate() {
        let rel = format!(
            "{RENDERED}/apps/group-{:02}/part-{f:04}.yaml",
            f / FILES_PER_GROUP
        );
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let text = chunk.join("---\n");
        stats.bytes += text.len();
        stats.files += 1;
        std::fs::write(&path, text)?;
        names.push(rel);
    }
    std::fs::write(dir.join(RENDERED).join("gitops.yaml"), gitops_yaml())?;
    std::fs::write(dir.join("kustomization.yaml"), kustomization(&names))?;
    Ok(stats)
}
