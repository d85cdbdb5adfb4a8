//! Step 1 of a render (DESIGN.md §4.1): read the rendered path (a directory, one file or
//! standard input) into an [`Input`]: every document parsed, split into objects, `List`
//! wrappers kept with their items as objects of their own.
//!
//! Limits, documented in the README: a file may hold at most [`MAX_FILE_BYTES`], a whole
//! input at most [`MAX_TOTAL_BYTES`]; YAML alias expansion and nesting are bounded by the
//! parser ([`crate::yaml::parse::Limits`]). Large inputs are parsed on several threads; the
//! result does not depend on how many.

pub mod glob;
pub mod walk;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::model::{Doc, Input, Loc, Object, SourceRef};
use crate::yaml::parse::{Budget, Limits, ParsedFile, parse_file};
use crate::yaml::{Node, Pos};

/// Largest file accepted: 16 MiB.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Largest input accepted in total: 256 MiB.
pub const MAX_TOTAL_BYTES: u64 = 256 << 20;

/// What to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Dir(PathBuf),
    File(PathBuf),
    Stdin,
}

/// One file's text and how to name it in messages.
#[derive(Debug)]
pub struct SourceFile {
    pub display: Arc<str>,
    /// The file's text, shared with the documents read from it (the output is this text
    /// with edits).
    pub text: Arc<str>,
}

/// Reads the files of a target.
pub fn read(
    target: &Target,
    excludes: &[String],
    exclude_base: &str,
    stdin: &mut dyn Read,
) -> Result<Vec<SourceFile>> {
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
            Ok(vec![SourceFile {
                text: Arc::from(utf8(bytes, &display)?),
                display,
            }])
        }
        Target::File(path) => Ok(vec![read_file(path, display_path(path))?]),
        Target::Dir(root) => {
            let mut total = 0;
            let mut out = Vec::new();
            for found in walk::walk(root, excludes, exclude_base)? {
                let display = if root == Path::new(".") {
                    found.rel.clone()
                } else {
                    format!("{}/{}", display_path(root).trim_end_matches('/'), found.rel)
                };
                let file = read_file(&found.path, display)?;
                total += file.text.len() as u64;
                if total > MAX_TOTAL_BYTES {
                    return Err(Error::TooLarge {
                        path: root.clone(),
                        size: total,
                        limit: MAX_TOTAL_BYTES,
                    });
                }
                out.push(file);
            }
            Ok(out)
        }
    }
}

fn display_path(p: &Path) -> String {
    let s = p.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

fn read_file(path: &Path, display: String) -> Result<SourceFile> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            size,
            limit: MAX_FILE_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let display: Arc<str> = Arc::from(display);
    Ok(SourceFile {
        text: Arc::from(utf8(bytes, &display)?),
        display,
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
    let limits = Limits::default();
    let parsed = parse_all(files, &limits);
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
