//! Spawn-and-wait of a trivial program: corral::Command against std::process::Command,
//! with and without each option. In-process, interleaved rounds, median and min per
//! spawn, ratios to std.
//!
//! Usage: spawn_bench [PROGRAM] [--spawns N] [--rounds R]   (default /bin/true, 200, 7)

use std::time::{Duration, Instant};

use corral::{Command, IoClass, IoPriority, Resource, Rlimit};

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: not a number")))
        .unwrap_or(default)
}

type Variant = (&'static str, Box<dyn Fn(&str) -> Duration>);

fn time_corral(prog: &str, f: impl Fn(Command) -> Command) -> Duration {
    time_corral_with(prog, f, false)
}

fn time_corral_with(prog: &str, f: impl Fn(Command) -> Command, suspended: bool) -> Duration {
    let t = Instant::now();
    let mut c = f(Command::new(prog)).spawn().expect("spawn");
    if suspended {
        // A suspended spawn returns a stopped child.
        c.resume().expect("resume");
    }
    assert!(c.wait().expect("wait").success());
    t.elapsed()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = args
        .get(1)
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "/bin/true".into());
    let spawns = arg(&args, "--spawns", 200);
    let rounds = arg(&args, "--rounds", 7);
    let variants: Vec<Variant> = vec![
        (
            "std::process::Command",
            Box::new(|p| {
                let t = Instant::now();
                assert!(std::process::Command::new(p)
                    .status()
                    .expect("spawn")
                    .success());
                t.elapsed()
            }),
        ),
        ("corral (no options)", Box::new(|p| time_corral(p, |c| c))),
        ("corral + nice", Box::new(|p| time_corral(p, |c| c.nice(5)))),
        (
            "corral + cpu_affinity",
            Box::new(|p| time_corral(p, |c| c.cpu_affinity(&[0]))),
        ),
        (
            "corral + io_priority",
            Box::new(|p| {
                time_corral(p, |c| {
                    c.io_priority(IoPriority {
                        class: IoClass::BestEffort,
                        level: 4,
                    })
                })
            }),
        ),
        (
            "corral + rlimit",
            Box::new(|p| {
                time_corral(p, |c| {
                    c.rlimit(
                        Resource::Nofile,
                        Rlimit {
                            soft: Some(512),
                            hard: Some(1024),
                        },
                    )
                })
            }),
        ),
        (
            "corral + umask",
            Box::new(|p| time_corral(p, |c| c.umask(0o022))),
        ),
        (
            "corral + new_session",
            Box::new(|p| time_corral(p, |c| c.new_session(true))),
        ),
        (
            "corral + close_inherited",
            Box::new(|p| time_corral(p, |c| c.close_inherited(true))),
        ),
        (
            "corral + new_process_group",
            Box::new(|p| time_corral(p, |c| c.new_process_group(true))),
        ),
        (
            "corral + suspended (+ resume)",
            Box::new(|p| time_corral_with(p, |c| c.suspended(true), true)),
        ),
    ];
    // samples[v] = per-round mean time per spawn
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    for round in 0..rounds {
        for k in 0..variants.len() {
            let v = (k + round) % variants.len();
            let mut total = Duration::ZERO;
            for _ in 0..spawns {
                total += (variants[v].1)(&prog);
            }
            samples[v].push(total / spawns as u32);
        }
        eprintln!("round {}/{rounds} done", round + 1);
    }
    let stats: Vec<(Duration, Duration)> = samples
        .iter_mut()
        .map(|s| {
            s.sort();
            (s[0], s[s.len() / 2])
        })
        .collect();
    let (base_min, base_med) = stats[0];
    println!("Spawn and wait of `{prog}`: {spawns} spawns per round, {rounds} rounds, interleaved; time per spawn.\n");
    println!("| variant | min µs | median µs | ÷ std (min) | ÷ std (median) |");
    println!("|---|---:|---:|---:|---:|");
    for ((name, _), (min, med)) in variants.iter().zip(&stats) {
        println!(
            "| {name} | {:.1} | {:.1} | {:.2} | {:.2} |",
            min.as_secs_f64() * 1e6,
            med.as_secs_f64() * 1e6,
            min.as_secs_f64() / base_min.as_secs_f64(),
            med.as_secs_f64() / base_med.as_secs_f64()
        );
    }
}
