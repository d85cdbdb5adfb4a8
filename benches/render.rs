//! Render benchmarks (issue 2, "Performance"): whole renders through the library's public API
//! on generated repositories of 1,000 and 10,000 objects, and the YAML layer alone (parse and
//! emit) on the 10,000-object stream.
//!
//! `cargo bench --bench render` runs them. Inputs are generated once per size into a temporary
//! directory, outside the timed section, by `support/generator.rs`.
//!
//! The same binary is the generator of `scripts/bench.sh`: with `BENCH_GENERATE_DIR=DIR` and
//! `BENCH_GENERATE_OBJECTS=N` set (and `BENCH_GENERATE_SHAPE=one-file` for one file of N/5 ×
//! ConfigMap, Deployment, Service, ServiceAccount and claim) it writes a repository of N objects into DIR (the rendered
//! directory `DIR/app`, the kustomization beside it in `DIR`), prints `objects files bytes`
//! on stdout, and exits without benchmarking.

#[path = "support/generator.rs"]
mod generator;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use divan::Bencher;
use divan::counter::BytesCount;
use kubectl_gitops::cli::IdentityArgs;
use kubectl_gitops::output::{self, Format};
use kubectl_gitops::render::{self, Request};
use kubectl_gitops::yaml::emit::emit_stream;
use kubectl_gitops::yaml::parse::{Limits, parse_stream};
use tempfile::TempDir;

fn main() {
    if let Some(dir) = std::env::var_os("BENCH_GENERATE_DIR") {
        generate_for_script(Path::new(&dir));
        return;
    }
    divan::main();
    // Remove the generated inputs (statics are never dropped).
    if let Ok(mut inputs) = INPUTS.lock() {
        inputs.clear();
    }
}

/// `BENCH_GENERATE_DIR` / `BENCH_GENERATE_OBJECTS` mode, for scripts/bench.sh.
fn generate_for_script(dir: &Path) {
    let n: usize = std::env::var("BENCH_GENERATE_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("BENCH_GENERATE_OBJECTS must be a number of objects");
    std::fs::create_dir_all(dir).expect("create BENCH_GENERATE_DIR");
    let stats = match std::env::var("BENCH_GENERATE_SHAPE").as_deref() {
        // One file of n/5 × (ConfigMap, Deployment, Service, ServiceAccount, claim).
        Ok("one-file") => generator::generate_one_file(dir, n / 5),
        _ => generator::generate(dir, n),
    }
    .expect("write the generated repository");
    let mut out = std::io::stdout().lock();
    writeln!(out, "{} {} {}", stats.objects, stats.files, stats.bytes).expect("write stdout");
}

/// Generated repositories, one per size and shape, kept for the whole run.
struct Input {
    n: usize,
    one_file: bool,
    dir: TempDir,
    bytes: usize,
}

static INPUTS: Mutex<Vec<Arc<Input>>> = Mutex::new(Vec::new());

/// The repository of `n` objects, generated on first use and checked to render without
/// warnings (every generated reference resolves).
fn input(n: usize) -> Arc<Input> {
    input_shaped(n, false)
}

/// [`input`], or with `one_file` one file of n/5 × (ConfigMap, Deployment, Service,
/// ServiceAccount, claim).
fn input_shaped(n: usize, one_file: bool) -> Arc<Input> {
    let mut inputs = INPUTS.lock().expect("inputs lock");
    if let Some(i) = inputs.iter().find(|i| i.n == n && i.one_file == one_file) {
        return Arc::clone(i);
    }
    let dir = tempfile::Builder::new()
        .prefix("kubectl-gitops-bench-")
        .tempdir()
        .expect("tempdir");
    let stats = if one_file {
        generator::generate_one_file(dir.path(), n / 5)
    } else {
        generator::generate(dir.path(), n)
    }
    .expect("generate input");
    let input = Arc::new(Input {
        n,
        one_file,
        dir,
        bytes: stats.bytes,
    });
    for args in [pr_123(), env_prod()] {
        let (out, warnings) = render_dir(input.dir.path(), &args);
        assert!(!out.is_empty(), "empty render of {n} objects");
        assert!(
            warnings.is_empty(),
            "the generated input should render without warnings, got {} (first: {})",
            warnings.len(),
            warnings[0]
        );
    }
    inputs.push(Arc::clone(&input));
    input
}

fn pr_123() -> IdentityArgs {
    IdentityArgs {
        pr: Some(generator::PR.to_string()),
        ..IdentityArgs::default()
    }
}

fn env_prod() -> IdentityArgs {
    IdentityArgs {
        env: Some("prod".to_string()),
        ..IdentityArgs::default()
    }
}

/// What `kubectl-gitops render DIR/app <flags>` does before its one write to stdout: find and
/// read gitops.yaml, resolve the identity, load, transform, emit.
fn render_dir(dir: &Path, args: &IdentityArgs) -> (Vec<u8>, Vec<String>) {
    let req = Request {
        path: path_str(&dir.join(generator::RENDERED)),
        identity: kubectl_gitops::identity_from_flags(args),
        repo_root: Some(dir.to_path_buf()),
        ..Request::default()
    };
    let mut warnings = Vec::new();
    let rendered = render::render(&req, &mut std::io::empty(), &mut warnings).expect("render");
    let bytes = output::to_bytes(&rendered.output.docs, Format::Yaml).expect("to_bytes");
    (bytes, warnings.iter().map(ToString::to_string).collect())
}

fn path_str(p: &Path) -> String {
    PathBuf::from(p)
        .to_str()
        .expect("UTF-8 temp path")
        .to_string()
}

const SIZES: [usize; 2] = [1_000, 10_000];

/// `render DIR --pr 123` on one file of 2,000 × (ConfigMap, Deployment, Service,
/// ServiceAccount, claim): no parallel parsing across files.
#[divan::bench(sample_count = 20)]
fn render_pr_123_one_file_10k(bencher: Bencher) {
    let input = input_shaped(10_000, true);
    let args = pr_123();
    bencher
        .counter(BytesCount::new(input.bytes))
        .bench(|| render_dir(input.dir.path(), &args));
}

/// `render DIR --pr 123`: a preview of every object (suffix, namespace, references, labels,
/// selectors, hosts, a new Namespace).
#[divan::bench(args = SIZES, sample_count = 20)]
fn render_pr_123(bencher: Bencher, n: usize) {
    let input = input(n);
    let args = pr_123();
    bencher
        .counter(BytesCount::new(input.bytes))
        .bench(|| render_dir(input.dir.path(), &args));
}

/// `render DIR --env prod`: namespace, labels, claims and protection, no renames.
#[divan::bench(args = SIZES, sample_count = 20)]
fn render_env_prod(bencher: Bencher, n: usize) {
    let input = input(n);
    let args = env_prod();
    bencher
        .counter(BytesCount::new(input.bytes))
        .bench(|| render_dir(input.dir.path(), &args));
}

/// The YAML layer alone on the 10,000-object stream: parse into our tree and emit it again.
#[divan::bench(sample_count = 20)]
fn parse_emit_10k(bencher: Bencher) {
    let text = generator::stream(10_000);
    let limits = Limits::default();
    bencher.counter(BytesCount::new(text.len())).bench(|| {
        let stream = parse_stream(&text, &limits).expect("parse");
        emit_stream(stream.docs.iter().map(|d| &d.root))
    });
}
