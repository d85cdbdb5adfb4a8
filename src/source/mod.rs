//! Step 1 of a render (DESIGN.md §4.1): read the rendered path (a directory, one file or
//! standard input) into an [`Input`]: every document parsed, split into objects, `List`
//! wrappers kept with their items as objects of their own.
//!
//! This is the one loader of every command (render, generate, check, diff, preview up and
//! the app-wide view of siblings): [`walk`] lists manifest files and the directories to build,
//! [`build`] builds kustomizations and Helm charts (through [`exec`], bounded), and only
//! regular files are read, with the size limit applied while reading ([`read_regular`]).
//!
//! Limits, documented in the README: a file may hold at most [`MAX_FILE_BYTES`], a whole
//! input at most [`MAX_TOTAL_BYTES`]; YAML alias expansion and nesting are bounded by the
//! parser ([`crate::yaml::parse::Limits`]). Large inputs are parsed on several threads; the
//! result does not depend on how many.

pub mod build;
pub mod exec;
pub mod glob;
pub mod openapi;
pub mod walk;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::model::{Doc, Input, Loc, Object, SourceRef};
use crate::yaml::parse::{Budget, Limits, ParsedFile, parse_file, parse_stream};
use crate::yaml::{Node, Pos};

pub use build::Builder;

/// Largest file accepted: 16 MiB. A kustomize build's or helm template's output is held to it
/// too.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Largest input accepted in total: 48 MiB. With the node budget
/// ([`crate::yaml::parse::MAX_NODES`]) it keeps a whole render under the sidecar's 512 MiB.
pub const MAX_TOTAL_BYTES: u64 = 48 << 20;

/// What to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Dir(PathBuf),
    File(PathBuf),
    Stdin,
}

/// One file's text (or one build's output) and how to name it in messages.
#[derive(Debug)]
pub struct SourceFile {
    pub display: Arc<str>,
    /// The file's text, shared with the documents read from it (the output is this text
    /// with edits).
    pub text: Arc<str>,
    /// Where it sorts in its walk: the path relative to the walked root (a built folder's
    /// ends with `/`; empty for a file or standard input named directly).
    pub key: String,
    /// For a kustomize build: every kustomization folder it used (canonical).
    pub kustomizations: Vec<PathBuf>,
}

impl SourceFile {
    /// A text read from somewhere else than a walk (standard input, a KRM ResourceList).
    pub fn new(display: &str, text: &str) -> SourceFile {
        SourceFile {
            display: Arc::from(display),
            text: Arc::from(text),
            key: String::new(),
            kustomizations: Vec::new(),
        }
    }
}

/// What a target holds.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The manifests, in walk order; a built directory is one entry.
    pub files: Vec<SourceFile>,
    /// Reference fields that kustomizations declare in their `crds:` files (OpenAPI
    /// definitions of custom kinds, [`openapi`]): kustomize renames them, so previews do too.
    pub references: Vec<crate::config::references::RefSpec>,
}

/// `O_NONBLOCK`: opening a FIFO must not wait for a writer (the file type is checked on the
/// opened handle, then nothing is read from anything but a regular file).
#[cfg(target_os = "linux")]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(not(target_os = "linux"))]
const O_NONBLOCK: i32 = 0x0004;

/// Reads a regular file, at most `limit` bytes: anything else (a FIFO, a device, a socket, a
/// directory) is refused without reading from it, and the limit holds while reading, whatever
/// the file's size said when it was opened.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(walk::not_regular(path));
    }
    if meta.len() > limit {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// Reads the files of a target: every manifest file, and every directory that is a
/// kustomization or a Helm chart built by `builder`.
pub fn read(
    target: &Target,
    opts: &walk::Options<'_>,
    builder: &Builder,
    stdin: &mut dyn Read,
    warnings: &mut Vec<Warning>,
) -> Result<Loaded> {
    match target {
        Target::Stdin => {
            let mut bytes = Vec::new();
            stdin
                .take(MAX_FILE_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(|source| Error::Io {
                    path: PathBuf::from("<stdin>"),
                    source,
                })?;
            if bytes.len() as u64 > MAX_FILE_BYTES {
                return Err(Error::TooLarge {
                    path: PathBuf::from("<stdin>"),
                    size: bytes.len() as u64,
                    limit: MAX_FILE_BYTES,
                });
            }
            let display: Arc<str> = Arc::from("<stdin>");
            Ok(Loaded {
                files: vec![SourceFile {
                    text: Arc::from(utf8(bytes, &display)?),
                    display,
                    key: String::new(),
                    kustomizations: Vec::new(),
                }],
                references: Vec::new(),
            })
        }
        Target::File(path) => {
            // A kustomize build file or Chart.yaml named directly: its folder is built.
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if let Some(dir) = name
                .as_deref()
                .filter(|n| walk::KUSTOMIZATION_FILES.contains(n) || *n == walk::CHART_FILE)
                .and_then(|_| path.parent())
            {
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                return read(
                    &Target::Dir(dir.to_path_buf()),
                    opts,
                    builder,
                    stdin,
                    warnings,
                );
            }
            Ok(Loaded {
                files: vec![read_file(path, display_path(path))?],
                references: Vec::new(),
            })
        }
        Target::Dir(root) => {
            let mut total = 0;
            let mut out = Loaded::default();
            for entry in walk::walk(root, opts, warnings)? {
                let (file, references) = read_entry(root, &entry, builder, warnings)?;
                total += file.text.len() as u64;
                if total > MAX_TOTAL_BYTES {
                    return Err(Error::TooLarge {
                        path: root.clone(),
                        size: total,
                        limit: MAX_TOTAL_BYTES,
                    });
                }
                out.files.push(file);
                out.references.extend(references);
            }
            Ok(out)
        }
    }
}

/// Reads one walk entry: a file, or a directory's build output (with the references its
/// `crds:` files declare).
fn read_entry(
    root: &Path,
    entry: &walk::Entry,
    builder: &Builder,
    warnings: &mut Vec<Warning>,
) -> Result<(SourceFile, Vec<crate::config::references::RefSpec>)> {
    let display_of = |rel: &str| {
        if rel.is_empty() {
            display_path(root)
        } else if root == Path::new(".") {
            rel.to_string()
        } else {
            format!("{}/{rel}", display_path(root).trim_end_matches('/'))
        }
    };
    match entry {
        walk::Entry::File(found) => {
            let mut file = read_file(&found.path, display_of(&found.rel))?;
            file.key.clone_from(&found.rel);
            Ok((file, Vec::new()))
        }
        walk::Entry::Build(dir) => {
            let built = builder.build(dir, &display_of(&dir.rel), warnings)?;
            let mut references = Vec::new();
            for p in &built.crds {
                let f = read_file(p, display_path(p))?;
                let stream =
                    parse_stream(&f.text, &Limits::default()).map_err(|e| Error::Yaml {
                        loc: Loc::new(&f.display, e.pos()),
                        source: e,
                    })?;
                for d in &stream.docs {
                    references.extend(openapi::references(&d.root));
                }
            }
            Ok((
                SourceFile {
                    display: built.display,
                    text: Arc::from(built.text),
                    key: format!("{}/", dir.rel),
                    kustomizations: built.kustomizations,
                },
                references,
            ))
        }
    }
}

/// Reads a directory the way the app-wide view reads the rendered directory's siblings: like
/// [`read`], but what cannot be read (a file that is not UTF-8, a build that fails or whose
/// tool is missing, a symlink leaving the root) is skipped with a warning. Kustomizations that
/// are never an Application of their own are not built: one that uses one of `variants_of`
/// (the rendered path's own kustomization folders: itself, its bases and components), which
/// is another overlay of the same base, and one that another kustomization of the app uses
/// (a base or a component, whose objects come with what uses it).
pub fn read_lenient(
    root: &Path,
    opts: &walk::Options<'_>,
    builder: &Builder,
    variants_of: &[PathBuf],
    warnings: &mut Vec<Warning>,
) -> Result<Loaded> {
    let mut out = Loaded::default();
    let mut total = 0;
    let entries = walk::walk(root, opts, warnings)?;
    let scans: Vec<Vec<PathBuf>> = entries
        .iter()
        .map(|e| match e {
            walk::Entry::Build(dir) => builder.kustomizations_of(dir),
            walk::Entry::File(_) => Vec::new(),
        })
        .collect();
    let used_by_others: Vec<&PathBuf> = scans.iter().flat_map(|s| s.iter().skip(1)).collect();
    for (entry, used) in entries.iter().zip(&scans) {
        let variant = used.iter().any(|k| variants_of.contains(k));
        let part_of_another = used.first().is_some_and(|k| used_by_others.contains(&k));
        if variant || part_of_another {
            continue;
        }
        match read_entry(root, entry, builder, warnings) {
            Ok((file, references)) => {
                total += file.text.len() as u64;
                if total > MAX_TOTAL_BYTES {
                    warnings.push(Warning::file(
                        display_path(root),
                        format!("the app's other directories hold more than {MAX_TOTAL_BYTES} bytes; the rest is not read"),
                    ));
                    break;
                }
                out.files.push(file);
                out.references.extend(references);
            }
            Err(e) => warnings.push(Warning::general(format!(
                "{e} (outside the rendered path: skipped)"
            ))),
        }
    }
    Ok(out)
}

fn display_path(p: &Path) -> String {
    let s = p.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

fn read_file(path: &Path, display: String) -> Result<SourceFile> {
    let bytes = read_regular(path, MAX_FILE_BYTES)?;
    let display: Arc<str> = Arc::from(display);
    Ok(SourceFile {
        text: Arc::from(utf8(bytes, &display)?),
        display,
        key: String::new(),
        kustomizations: Vec::new(),
    })
}

fn utf8(bytes: Vec<u8>, display: &Arc<str>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
        let col = good.iter().rev().take_while(|&&b| b != b'\n').count() as u32 + 1;
        Error::NotUtf8 {
            loc: Loc::new(display, Pos { line, col }),
        }
    })
}

/// Parses files into an [`Input`]. Parse warnings (duplicate keys) are returned located.
///
/// The parser's budget ([`Limits`]) holds for the input as a whole: each file is parsed
/// within it on its own (on several threads when the input is large), then the files' costs
/// are added up in walk order, so the error names the same file on every run.
pub fn parse_files(files: &[SourceFile]) -> Result<(Input, Vec<Warning>)> {
    let limits = Limits {
        shared_nodes: Some(std::sync::Arc::default()),
        ..Limits::default()
    };
    let parsed = parse_all(files, &limits);
    // The shared node count may stop whichever parser crosses it first: say it of the input,
    // at its first file, so the message is the same on every run.
    if let (Some(first), true) = (
        files.first(),
        parsed
            .iter()
            .any(|r| matches!(r, Err(crate::yaml::parse::ParseError::TooManyNodes { .. }))),
    ) {
        return Err(Error::Yaml {
            loc: Loc::file(&first.display),
            source: crate::yaml::parse::ParseError::TooManyNodes {
                pos: Pos { line: 1, col: 1 },
                max: limits.max_nodes,
            },
        });
    }
    let mut input = Input::default();
    let mut warnings = Vec::new();
    let mut spent = Budget::default();
    for (file, result) in files.iter().zip(parsed) {
        let f = result.map_err(|e| Error::Yaml {
            loc: Loc::new(&file.display, e.pos()),
            source: e,
        })?;
        spent.add(f.spent);
        spent
            .check(&limits, Pos { line: 1, col: 1 })
            .map_err(|e| Error::Yaml {
                loc: Loc::file(&file.display),
                source: e,
            })?;
        warnings.extend(
            f.warnings
                .into_iter()
                .map(|w| Warning::at(Loc::new(&file.display, w.pos), w.msg)),
        );
        for (piece, root) in f.pieces {
            let source = SourceRef {
                text: Arc::clone(&file.text),
                piece,
            };
            match root {
                Some(root) => add_document(&mut input, root, &file.display, source)?,
                None => input.docs.push(Doc::Text(source)),
            }
        }
    }
    Ok((input, warnings))
}

/// Parses files like [`parse_files`], skipping (with a warning) every file that does not
/// parse or holds a document that is not a Kubernetes object: the app-wide view's reading of
/// the directories outside the rendered path, which are not output. Each file is parsed
/// within the parser's budget on its own.
pub fn parse_files_lenient(files: &[SourceFile]) -> (Input, Vec<Warning>) {
    let limits = Limits {
        shared_nodes: Some(std::sync::Arc::default()),
        ..Limits::default()
    };
    let parsed = parse_all(files, &limits);
    let mut input = Input::default();
    let mut warnings = Vec::new();
    for (file, result) in files.iter().zip(parsed) {
        let one = result
            .map_err(|e| Error::Yaml {
                loc: Loc::new(&file.display, e.pos()),
                source: e,
            })
            .and_then(|f| {
                let mut part = Input::default();
                for (piece, root) in f.pieces {
                    let source = SourceRef {
                        text: Arc::clone(&file.text),
                        piece,
                    };
                    match root {
                        Some(root) => add_document(&mut part, root, &file.display, source)?,
                        None => part.docs.push(Doc::Text(source)),
                    }
                }
                Ok((part, f.warnings))
            });
        match one {
            Ok((part, file_warnings)) => {
                warnings.extend(
                    file_warnings
                        .into_iter()
                        .map(|w| Warning::at(Loc::new(&file.display, w.pos), w.msg)),
                );
                append(&mut input, part);
            }
            Err(e) => warnings.push(Warning::general(format!(
                "{e} (outside the rendered path: skipped)"
            ))),
        }
    }
    (input, warnings)
}

/// Appends `more`'s objects and documents to `input` (indices shifted).
pub fn append(input: &mut Input, more: Input) {
    let base = input.objects.len();
    input.objects.extend(more.objects);
    input.docs.extend(more.docs.into_iter().map(|d| match d {
        Doc::Object(i) => Doc::Object(base + i),
        Doc::List {
            wrapper,
            file,
            items,
            read,
            source,
        } => Doc::List {
            wrapper,
            file,
            items: items.into_iter().map(|i| base + i).collect(),
            read: read.into_iter().map(|(i, span)| (base + i, span)).collect(),
            source,
        },
        Doc::Text(t) => Doc::Text(t),
    }));
}

type Parsed = std::result::Result<ParsedFile, crate::yaml::parse::ParseError>;

/// Parses every file, on several threads when there is enough work to be worth it. The
/// order of results is the order of files.
fn parse_all(files: &[SourceFile], limits: &Limits) -> Vec<Parsed> {
    let one = |f: &SourceFile| parse_file(&f.text, limits);
    let total: usize = files.iter().map(|f| f.text.len()).sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(8);
    if threads < 2 || total < (2 << 20) || files.len() < 2 {
        return files.iter().map(one).collect();
    }
    // Split into contiguous chunks of about equal bytes.
    let per = total.div_ceil(threads);
    let mut chunks: Vec<&[SourceFile]> = Vec::new();
    let (mut start, mut acc) = (0, 0);
    for (i, f) in files.iter().enumerate() {
        acc += f.text.len();
        if acc >= per {
            chunks.push(&files[start..=i]);
            start = i + 1;
            acc = 0;
        }
    }
    if start < files.len() {
        chunks.push(&files[start..]);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| s.spawn(move || chunk.iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![Err(crate::yaml::parse::ParseError::Syntax {
                        pos: Pos::default(),
                        msg: "internal error while parsing".into(),
                    })]
                })
            })
            .collect()
    })
}

fn add_document(input: &mut Input, root: Node, file: &Arc<str>, source: SourceRef) -> Result<()> {
    if Object::is_list_document(&root) {
        let mut wrapper = root;
        let items = match wrapper.get_mut("items").and_then(Node::as_seq_mut) {
            Some(items) => std::mem::take(items),
            None => Vec::new(),
        };
        let mut indexes = Vec::new();
        let mut read = Vec::new();
        for item in items {
            let (pos, span) = (item.pos, item.span);
            let obj = Object::from_node(item, file).map_err(|reason| Error::NotAnObject {
                loc: Loc::new(file, pos),
                reason: format!("an item of this List: {reason}"),
            })?;
            indexes.push(input.objects.len());
            read.push((input.objects.len(), span));
            input.objects.push(obj);
        }
        input.docs.push(Doc::List {
            wrapper,
            file: Arc::clone(file),
            items: indexes,
            read,
            source: Some(source),
        });
        return Ok(());
    }
    let pos = root.pos;
    let mut obj = Object::from_node(root, file).map_err(|reason| Error::NotAnObject {
        loc: Loc::new(file, pos),
        reason,
    })?;
    obj.source = Some(source);
    input.docs.push(Doc::Object(input.objects.len()));
    input.objects.push(obj);
    Ok(())
}
