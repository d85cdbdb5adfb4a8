//! Shell completion: `completion bash|zsh|fish|kubectl-plugin` prints a script, and the hidden
//! `__complete` subcommand answers it.
//!
//! The protocol is cobra's (`kubectl __complete`), so one engine serves our own scripts and
//! kubectl's plugin completion, which runs `kubectl_complete-gitops ARGS... WORD` and reads
//! the same answer: one candidate per line (`value<TAB>description`), then `:<directive>`, a
//! bit set telling the shell what to do when there is no candidate ([`NO_SPACE`],
//! [`NO_FILE`]; 0: complete file names).
//!
//! Candidates come from the clap command tree (subcommands, flags, `value_enum` values), so
//! they never drift from the parser, and `--env` (and `--from-env`, `--to-env`) complete the
//! environments of the gitops.yaml that the command would read: the one for the command's
//! PATH argument, else the working directory's. Completion never fails loudly: an unreadable
//! gitops.yaml simply yields no environments.

use std::path::{Path, PathBuf};

use clap::{Arg, ValueEnum};

/// `completion SHELL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    /// The `kubectl_complete-gitops` script kubectl (1.26+) runs for `kubectl gitops <TAB>`
    #[value(name = "kubectl-plugin")]
    KubectlPlugin,
}

/// No space after the completion.
pub const NO_SPACE: u32 = 2;
/// Do not fall back to file names.
pub const NO_FILE: u32 = 4;

/// The completion script for a shell.
pub fn script(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => BASH,
        Shell::Zsh => ZSH,
        Shell::Fish => FISH,
        Shell::KubectlPlugin => KUBECTL_PLUGIN,
    }
}

const BASH: &str = r#"# bash completion for kubectl-gitops: source <(kubectl-gitops completion bash)
_kubectl_gitops() {
    local cur=${COMP_WORDS[COMP_CWORD]} out directive line
    out=$("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null) || return
    directive=${out##*:}
    out=${out%:*}
    COMPREPLY=()
    while IFS= read -r line; do
        [[ -n $line ]] && COMPREPLY+=("${line%%$'\t'*}")
    done <<<"$out"
    if (( ${#COMPREPLY[@]} == 0 )) && (( (directive & 4) == 0 )); then
        compopt -o default 2>/dev/null
    fi
    (( directive & 2 )) && compopt -o nospace 2>/dev/null
    return 0
}
complete -F _kubectl_gitops kubectl-gitops
"#;

const ZSH: &str = r#"#compdef kubectl-gitops
# zsh completion for kubectl-gitops: kubectl-gitops completion zsh > "${fpath[1]}/_kubectl-gitops"
_kubectl-gitops() {
    local out directive line
    local -a candidates
    out=$(${words[1]} __complete "${(@)words[2,CURRENT-1]}" "${words[CURRENT]}" 2>/dev/null) || return 1
    directive=${out##*:}
    out=${out%:*}
    for line in ${(f)out}; do
        [[ -n $line ]] && candidates+=("${line//:/\\:}")
    done
    candidates=("${(@)candidates//$'\t'/:}")
    if (( ${#candidates} > 0 )); then
        if (( directive & 2 )); then
            _describe 'kubectl-gitops' candidates -S ''
        else
            _describe 'kubectl-gitops' candidates
        fi
    elif (( (directive & 4) == 0 )); then
        _files
    fi
}
if [[ $funcstack[1] == _kubectl-gitops ]]; then
    _kubectl-gitops "$@"
else
    compdef _kubectl-gitops kubectl-gitops
fi
"#;

const FISH: &str = r#"# fish completion for kubectl-gitops: kubectl-gitops completion fish > ~/.config/fish/completions/kubectl-gitops.fish
function __kubectl_gitops_complete
    set -l args (commandline -opc)
    set -l out ($args[1] __complete $args[2..-1] (commandline -ct) 2>/dev/null)
    or return
    set -l directive (string replace -r '^:' '' -- $out[-1])
    set -e out[-1]
    if test (count $out) -eq 0; and test (math "bitand($directive, 4)") -eq 0
        __fish_complete_path (commandline -ct)
        return
    end
    printf '%s\n' $out
end
complete -c kubectl-gitops -f -a '(__kubectl_gitops_complete)'
"#;

const KUBECTL_PLUGIN: &str = r#"#!/bin/sh
# kubectl_complete-gitops: kubectl (1.26+) runs this for `kubectl gitops <TAB>`. Put it on PATH
# next to kubectl-gitops and make it executable.
exec kubectl-gitops __complete "$@"
"#;

/// One candidate: the value and its description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub value: String,
    pub help: String,
}

/// The answer to `__complete WORDS...`, as cobra prints it.
pub fn answer(root: &clap::Command, words: &[String]) -> String {
    let (candidates, directive) = complete(root, words, &environments_of);
    let mut out = String::new();
    for c in candidates {
        out.push_str(&c.value);
        if !c.help.is_empty() {
            out.push('\t');
            out.push_str(c.help.lines().next().unwrap_or(""));
        }
        out.push('\n');
    }
    out.push_str(&format!(":{directive}\n"));
    out
}

/// The environments of the gitops.yaml a command on `path` reads.
fn environments_of(path: &Path) -> Vec<String> {
    let start = if path.is_file() {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    } else {
        path.to_path_buf()
    };
    match crate::render::load_config(&start, None) {
        Ok(Some(cfg)) => cfg
            .environment_names()
            .into_iter()
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Candidates and directive for `words` (the last word is the one being completed).
/// `environments` lists the environments for a path (a seam for tests).
pub fn complete(
    root: &clap::Command,
    words: &[String],
    environments: &dyn Fn(&Path) -> Vec<String>,
) -> (Vec<Candidate>, u32) {
    let mut root = root.clone();
    root.build();
    let (done, current) = match words.split_last() {
        Some((cur, done)) => (done, cur.as_str()),
        None => (&[][..], ""),
    };
    let mut cmd = &root;
    let mut positionals: Vec<&str> = Vec::new();
    let mut pending: Option<&Arg> = None;
    let mut only_positionals = false;
    for word in done {
        if pending.take().is_some() {
            continue;
        }
        if !only_positionals && word == "--" {
            only_positionals = true;
        } else if !only_positionals && word.starts_with("--") {
            let body = &word[2..];
            if !body.contains('=') {
                pending = long(cmd, body).filter(|a| takes_value(a));
            }
        } else if !only_positionals && word.starts_with('-') && word.len() > 1 {
            // A cluster of short flags: the last one may take the next word as its value.
            let shorts: Vec<char> = word[1..].chars().collect();
            if let Some(&last) = shorts.last() {
                let arg = cmd.get_arguments().find(|a| a.get_short() == Some(last));
                pending = arg.filter(|a| takes_value(a));
            }
        } else if let Some(sub) = cmd.find_subcommand(word).filter(|_| positionals.is_empty()) {
            cmd = sub;
        } else {
            positionals.push(word);
        }
    }
    let path = PathBuf::from(positionals.first().copied().unwrap_or("."));
    if let Some(arg) = pending {
        return values(arg, current, "", &path, environments);
    }
    if let Some(body) = current.strip_prefix("--") {
        if let Some((name, value)) = body.split_once('=') {
            return match long(cmd, name) {
                Some(arg) => values(arg, value, &format!("--{name}="), &path, environments),
                None => (Vec::new(), NO_FILE),
            };
        }
    }
    if current.starts_with('-') {
        let mut out: Vec<Candidate> = cmd
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_positional())
            .filter_map(|a| a.get_long().map(|l| (a, format!("--{l}"))))
            .filter(|(_, flag)| flag.starts_with(current))
            .map(|(a, flag)| Candidate {
                value: flag,
                help: help(a),
            })
            .collect();
        out.sort_by(|a, b| a.value.cmp(&b.value));
        return (out, NO_FILE);
    }
    let subcommands: Vec<Candidate> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name().starts_with(current))
        .map(|s| Candidate {
            value: s.get_name().to_string(),
            help: s.get_about().map(|a| a.to_string()).unwrap_or_default(),
        })
        .collect();
    let positional = cmd
        .get_arguments()
        .filter(|a| a.is_positional())
        .nth(positionals.len());
    match positional {
        _ if !subcommands.is_empty() => (subcommands, NO_FILE),
        Some(arg) => values(arg, current, "", &path, environments),
        None => (Vec::new(), NO_FILE),
    }
}

fn long<'a>(cmd: &'a clap::Command, name: &str) -> Option<&'a Arg> {
    cmd.get_arguments().find(|a| a.get_long() == Some(name))
}

fn takes_value(arg: &Arg) -> bool {
    arg.get_num_args().is_some_and(|n| n.takes_values())
}

fn help(arg: &Arg) -> String {
    arg.get_help().map(|h| h.to_string()).unwrap_or_default()
}

/// What a value of `arg` can be: its enumerated values, environments, or file names.
fn values(
    arg: &Arg,
    current: &str,
    prefix: &str,
    path: &Path,
    environments: &dyn Fn(&Path) -> Vec<String>,
) -> (Vec<Candidate>, u32) {
    let possible = arg.get_possible_values();
    if !possible.is_empty() {
        let out = possible
            .iter()
            .filter(|p| !p.is_hide_set() && p.get_name().starts_with(current))
            .map(|p| Candidate {
                value: format!("{prefix}{}", p.get_name()),
                help: p.get_help().map(|h| h.to_string()).unwrap_or_default(),
            })
            .collect();
        return (out, NO_FILE);
    }
    let is_env = arg
        .get_long()
        .is_some_and(|l| l == "env" || l.ends_with("-env"));
    if is_env {
        let out = environments(path)
            .into_iter()
            .filter(|e| e.starts_with(current))
            .map(|e| Candidate {
                value: format!("{prefix}{e}"),
                help: "environment in gitops.yaml".into(),
            })
            .collect();
        return (out, NO_FILE);
    }
    let names_a_path = arg.get_value_names().is_some_and(|names| {
        names.iter().any(|n| {
            ["PATH", "DIR", "FILE", "CHECKOUT", "GIT_DIR"]
                .iter()
                .any(|k| n.contains(k))
        })
    });
    if names_a_path {
        (Vec::new(), 0)
    } else {
        (Vec::new(), NO_FILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> (Vec<String>, u32) {
        let mut words: Vec<String> = line.split(' ').map(str::to_string).collect();
        if line.is_empty() {
            words = vec![String::new()];
        }
        let envs = |p: &Path| {
            if p == Path::new("app") {
                vec!["dev".to_string(), "prod".to_string(), "staging".to_string()]
            } else {
                vec!["local".to_string()]
            }
        };
        let root = crate::cli::command(crate::cli::Invocation::Direct);
        let (c, d) = complete(&root, &words, &envs);
        (c.into_iter().map(|c| c.value).collect(), d)
    }

    #[test]
    fn table() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let cases: &[(&str, Vec<String>, u32)] = &[
            ("re", s(&["render"]), NO_FILE),
            ("pre", s(&["preview"]), NO_FILE),
            ("preview d", s(&["down"]), NO_FILE),
            ("render app --env ", s(&["dev", "prod", "staging"]), NO_FILE),
            ("render app --env s", s(&["staging"]), NO_FILE),
            ("render --env ", s(&["local"]), NO_FILE),
            ("render app --env=p", s(&["--env=prod"]), NO_FILE),
            ("diff app --from-env d", s(&["dev"]), NO_FILE),
            ("render app -o ", s(&["yaml", "json", "jsonl"]), NO_FILE),
            ("render app --out", s(&["--out-dir", "--output"]), NO_FILE),
            ("render ", s(&[]), 0),
            ("render app --out-dir ", s(&[]), 0),
            ("render app --pr ", s(&[]), NO_FILE),
            ("render app -n ", s(&[]), NO_FILE),
            (
                "completion ",
                s(&["bash", "zsh", "fish", "kubectl-plugin"]),
                NO_FILE,
            ),
            ("check app -o s", s(&["sarif"]), NO_FILE),
            ("--color ", s(&["auto", "always", "never"]), NO_FILE),
        ];
        for (line, want, directive) in cases {
            let (got, d) = run(line);
            assert_eq!((&got, d), (want, *directive), "{line:?}");
        }
    }

    #[test]
    fn answer_is_cobra_shaped() {
        let root = crate::cli::command(crate::cli::Invocation::Direct);
        let text = answer(&root, &["vers".to_string()]);
        assert!(text.starts_with("version\t"), "{text}");
        assert!(text.ends_with(":4\n"), "{text}");
    }
}
