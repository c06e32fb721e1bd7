using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;
using Vmm.Hosting;

namespace Vmm.Cli;

/// <summary><c>vmm run [--json] [--kernel V] [--set kind=name]... [--timeout S] [--keep-going] [--plugins FILE] PATH...</c> (scenario-format.md, "Running").</summary>
internal static class RunCommand
{
    /// <summary>The per-scenario time limit when <c>--timeout</c> is not given, in seconds.</summary>
    public const double DefaultTimeoutSeconds = 60;

    private const double MaxTimeoutSeconds = 1_000_000;

    /// <summary>Like the main thread's 8 MiB on Linux, so a scenario runs on its worker as it would on the main thread.</summary>
    private const int WorkerStackSize = 8 << 20;

    private const int BarWidth = 20;

    /// <summary>When piped, a scenario still running after this long gets a "running FILE..." line on stderr.</summary>
    private static readonly TimeSpan SlowAfter = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    public static Command Create(CliContext context)
    {
        var json = new Option<bool>("--json")
        {
            Description = "Write one JSON document to stdout: {\"scenarios\": [{\"file\", \"name\", \"passed\", \"steps\": [{\"index\", \"op\", \"expected\", \"actual\", \"passed\"}]}]}.",
        };
        var kernel = new Option<string?>("--kernel")
        {
            Description = "Follow this kernel version where versions differ, instead of each file's \"kernel\" (e.g. 6.11).",
            HelpName = "version",
        };
        var set = new Option<string[]>("--set")
        {
            Description = "Use this component in every scenario instead of the file's choice, e.g. --set policy=hwpoison-v2. Repeatable. Kinds: memory, policy, thp, faults, pagetable.",
            HelpName = "kind=name",
            DefaultValueFactory = _ => [],
        };
        var plugins = PluginsCommand.PluginsOption();
        var verbose = new Option<bool>("--verbose", "-v")
        {
            Description = "Show every scenario's step table (by default: only failing scenarios' tables when more than three files run).",
        };
        var timeout = new Option<double>("--timeout")
        {
            Description = "Stop a scenario that runs longer than this many seconds, report it and go on with the next file (default 60; 0 = no limit). A stopped scenario counts as failed (exit 1).",
            HelpName = "seconds",
            DefaultValueFactory = _ => DefaultTimeoutSeconds,
        };
        var keepGoing = new Option<bool>("--keep-going")
        {
            Description = "Report invalid files and run the valid ones anyway (by default one invalid file stops the run before anything runs); the exit code is still 2.",
        };
        var paths = new Argument<string[]>("paths")
        {
            Description = "Scenario files, or directories searched recursively for *.json.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("run",
            """
            Run scenarios and check what each step observed against its "expect".

            Examples:
              vmm run scenarios/
              vmm run --json --kernel 6.11 scenarios/hwpoison/v2-tdx-ci-fork.json
              vmm run --set policy=hwpoison-v2 --set memory=tdx-ci scenarios/
              vmm run --keep-going --timeout 10 scenarios/

            The last line is "N scenarios, P passed, F failed", followed by the counts of invalid, timed-out
            and internally failed files when there are any.

            Exit codes: 0 every expectation met; 1 some expectation failed (each failure shows step, op,
            expected and actual) or a scenario ran past --timeout; 2 invalid input (file, JSON, schema, unknown
            op, component or option), reported as "vmm: FILE:LINE:COLUMN: message", also with --keep-going;
            3 internal error. The first that applies of 2, 3, 1 wins.
            """)
        {
            json, kernel, set, timeout, keepGoing, plugins, verbose, paths,
        };
        command.SetAction(parseResult => Execute(context, new RunArguments(
            parseResult.GetValue(paths) ?? [],
            parseResult.GetValue(json),
            parseResult.GetValue(kernel),
            parseResult.GetValue(set) ?? [],
            parseResult.GetValue(plugins),
            parseResult.GetValue(verbose),
            parseResult.GetValue(timeout),
            parseResult.GetValue(keepGoing))));
        return command;
    }

    private sealed record RunArguments(string[] Paths, bool Json, string? Kernel, string[] Sets, string? Plugins, bool Verbose, double TimeoutSeconds, bool KeepGoing);

    /// <summary>One file's fate: a result, or the bad input, bug or time limit that stopped it.</summary>
    private sealed record Entry(string File, ScenarioResult? Result = null, ScenarioException? Error = null, Exception? InternalError = null, TimedOut? TimedOut = null)
    {
        /// <summary>The line for stderr when the file did not finish, without the "vmm: " prefix.</summary>
        public string? Message =>
            Error?.ToString()
            ?? (InternalError is not null ? $"{File}: internal error (a bug; please report it): {InternalError}" : null)
            ?? TimedOut?.Message;
    }

    private static int Execute(CliContext context, RunArguments arguments)
    {
        try
        {
            var overrides = Overrides.Parse(arguments.Kernel, arguments.Sets, out var overrideError);
            if (overrides is null)
            {
                context.Error(overrideError!);
                return ExitCodes.BadInput;
            }
            if (!(arguments.TimeoutSeconds is >= 0 and <= MaxTimeoutSeconds))
            {
                context.Error($"--timeout: expected a number of seconds from 0 (no limit) to {MaxTimeoutSeconds:0}, not {arguments.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)}");
                return ExitCodes.BadInput;
            }
            TimeSpan? limit = arguments.TimeoutSeconds == 0 ? null : TimeSpan.FromSeconds(arguments.TimeoutSeconds);

            using var host = VmmHost.Load(PluginsLocator.Find(arguments.Plugins), context.ConfigureServices);
            var invalid = new List<ScenarioException>();
            var files = ExpandPaths(arguments.Paths, arguments.KeepGoing ? invalid : null);
            if (files.Count == 0 && invalid.Count == 0)
            {
                context.Error($"no *.json scenario files in {string.Join(", ", arguments.Paths)}");
                return ExitCodes.BadInput;
            }

            var scenarios = new List<Scenario>();
            var broken = new List<Entry>();
            foreach (var file in files)
            {
                try
                {
                    var validation = host.Validate(file, overrides);
                    foreach (var warning in validation.Warnings) context.Error(warning.ToString());
                    if (validation.Error is not null) invalid.Add(validation.Error);
                    else scenarios.Add(validation.Scenario!);
                }
                catch (Exception e)
                {
                    // A bug met while validating one file is that file's internal error, not the whole run's.
                    broken.Add(new Entry(file, InternalError: e));
                }
            }
            foreach (var error in invalid) context.Error(error.ToString());
            foreach (var entry in broken) context.Error(entry.Message!);
            if (invalid.Count + broken.Count > 0 && !arguments.KeepGoing)
            {
                if (scenarios.Count > 0)
                    context.Error(broken.Count == 0
                        ? $"{invalid.Count} of {files.Count} files are invalid, so none was run; --keep-going runs the valid ones"
                        : $"{invalid.Count + broken.Count} of {files.Count} files could not be validated, so none was run; --keep-going runs the others");
                if (arguments.Json) RunReport.WriteJson(context.Stdout, [], invalid);
                return invalid.Count > 0 ? ExitCodes.BadInput : ExitCodes.InternalError;
            }

            var entries = broken.Concat(RunAll(context, host, scenarios, overrides, limit)).ToList();
            var results = entries.Where(e => e.Result is not null).Select(e => e.Result!).ToList();
            var errors = invalid.Concat(entries.Where(e => e.Error is not null).Select(e => e.Error!)).ToList();
            var timedOut = entries.Where(e => e.TimedOut is not null).Select(e => e.TimedOut!).ToList();
            var internalErrors = entries.Count(e => e.InternalError is not null);
            var tally = new RunTally(results.Count(r => r.Passed), results.Count(r => !r.Passed), errors.Count, timedOut.Count, internalErrors);
            if (arguments.Json)
                RunReport.WriteJson(context.Stdout, results, errors, timedOut);
            else
                RunReport.WriteTables(context.OutConsole, results, tally, arguments.Verbose || results.Count <= 3);

            if (errors.Count > 0) return ExitCodes.BadInput;
            if (internalErrors > 0) return ExitCodes.InternalError;
            return tally.AllPassed ? ExitCodes.Passed : ExitCodes.Failed;
        }
        catch (PluginLoadException e)
        {
            context.Error(e.Message);
            return ExitCodes.BadInput;
        }
        catch (ScenarioException e)
        {
            context.Error(e.ToString());
            return ExitCodes.BadInput;
        }
        catch (Exception e)
        {
            return context.InternalError(e);
        }
    }

    /// <summary>The files of every path; a missing path throws, or with --keep-going is added to <paramref name="invalid"/>.</summary>
    private static List<string> ExpandPaths(string[] paths, List<ScenarioException>? invalid)
    {
        if (invalid is null) return [.. VmmHost.ExpandPaths(paths)];
        var files = new List<string>();
        foreach (var path in paths)
        {
            try
            {
                files.AddRange(VmmHost.ExpandPaths([path]));
            }
            catch (ScenarioException e)
            {
                invalid.Add(e);
            }
        }
        return files;
    }

    /// <summary>
    /// Runs the scenarios one after another, each on its own worker thread under the time limit. On an interactive
    /// stderr a progress bar shows the running file; otherwise a scenario still running after a second gets a line.
    /// A file that does not finish is reported on stderr as soon as it ends.
    /// </summary>
    private static List<Entry> RunAll(CliContext context, VmmHost host, List<Scenario> scenarios, RunOverrides overrides, TimeSpan? limit)
    {
        var entries = new List<Entry>(scenarios.Count);
        var console = context.ErrorConsole;
        if (scenarios.Count > 0 && console.Profile.Capabilities.Interactive)
        {
            // Ctrl+C ends vmm at once; give the terminal back its cursor, which the live display hides.
            ConsoleCancelEventHandler showCursor = (_, _) => console.Cursor.Show();
            Console.CancelKeyPress += showCursor;
            try
            {
                RunWithProgress(context, console, host, scenarios, overrides, limit, entries);
            }
            finally
            {
                Console.CancelKeyPress -= showCursor;
            }
            return entries;
        }

        for (var i = 0; i < scenarios.Count; i++)
        {
            var scenario = scenarios[i];
            var announced = false;
            var entry = RunOne(host, scenario, overrides, limit, context.TimeoutGrace, elapsed =>
            {
                if (announced || elapsed < SlowAfter) return;
                announced = true;
                context.Error($"[{i + 1}/{scenarios.Count}] running {scenario.File}...");
            });
            if (entry.Message is { } message) context.Error(message);
            entries.Add(entry);
        }
        return entries;
    }

    private static void RunWithProgress(CliContext context, IAnsiConsole console, VmmHost host, List<Scenario> scenarios, RunOverrides overrides, TimeSpan? limit, List<Entry> entries)
    {
        // Refreshed from this thread only, while waiting for each worker: a render error can then never escape on Spectre's own thread.
        console.Progress()
            .AutoRefresh(false)
            .AutoClear(true)
            .Columns(new SpinnerColumn(), new ProgressBarColumn { Width = BarWidth }, new PlainDescriptionColumn())
            .Start(progress =>
            {
                var task = progress.AddTask("scenarios", maxValue: scenarios.Count);
                for (var i = 0; i < scenarios.Count; i++)
                {
                    var label = $"{i + 1}/{scenarios.Count} {scenarios[i].File}";
                    task.Description = label;
                    progress.Refresh();
                    var entry = RunOne(host, scenarios[i], overrides, limit, context.TimeoutGrace, elapsed =>
                    {
                        if (elapsed >= SlowAfter) task.Description = $"{label} ({elapsed.TotalSeconds:0} s)";
                        progress.Refresh();
                    });
                    if (entry.Message is { } message) console.Write(new Text($"vmm: {message}{Environment.NewLine}"));
                    entries.Add(entry);
                    task.Increment(1);
                }
                progress.Refresh();
            });
    }

    /// <summary>
    /// Runs one scenario on a background worker. At the limit its token is cancelled, which stops it before its next step; a
    /// step that has not returned by the limit plus the grace is left running (a background thread does not keep
    /// vmm alive) and reported as timed out all the same. <paramref name="waiting"/> sees the elapsed time every tick.
    /// </summary>
    private static Entry RunOne(VmmHost host, Scenario scenario, RunOverrides overrides, TimeSpan? limit, TimeSpan grace, Action<TimeSpan> waiting)
    {
        var cancel = new CancellationTokenSource();
        var steps = new StepCount();
        Entry? finished = null;
        var worker = new Thread(() => finished = RunOnWorker(host, scenario, overrides, limit, steps, cancel.Token), WorkerStackSize)
        {
            IsBackground = true,
            Name = $"vmm run {Path.GetFileName(scenario.File)}",
        };
        var clock = Stopwatch.StartNew();
        worker.Start();
        while (!worker.Join(Tick))
        {
            waiting(clock.Elapsed);
            if (limit is not { } stop || clock.Elapsed < stop) continue;
            // Cancelled from here rather than by CancelAfter's timer, which a busy thread pool can delay.
            cancel.Cancel();
            if (clock.Elapsed >= stop + grace) return TimedOutEntry(scenario, stop, steps.Done, stillRunning: true);
        }
        cancel.Dispose();
        return finished!;
    }

    private static Entry RunOnWorker(VmmHost host, Scenario scenario, RunOverrides overrides, TimeSpan? limit, StepCount steps, CancellationToken cancellation)
    {
        try
        {
            return new Entry(scenario.File, Result: host.Run(scenario, overrides, _ => steps.Add(), cancellation));
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested && limit is { } stop)
        {
            return TimedOutEntry(scenario, stop, steps.Done, stillRunning: false);
        }
        catch (ScenarioException e)
        {
            return new Entry(scenario.File, Error: e);
        }
        catch (Exception e)
        {
            // Everything, out-of-memory too: an exception that escapes a worker thread would end the whole process.
            return new Entry(scenario.File, InternalError: e);
        }
    }

    private static Entry TimedOutEntry(Scenario scenario, TimeSpan limit, int stepsDone, bool stillRunning)
    {
        var total = scenario.Steps.Count;
        var where = stepsDone >= total
            ? "after its last step"
            : stillRunning
                ? $"step {scenario.Steps[stepsDone].Index} ({scenario.Steps[stepsDone].Op}){(stepsDone == 0 ? " or the setup before it" : "")} did not return and goes on in the background until vmm exits"
                : $"step {scenario.Steps[stepsDone].Index} ({scenario.Steps[stepsDone].Op}) was next";
        var seconds = limit.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        var message = $"{scenario.File}: stopped after {seconds} s (--timeout) with {stepsDone} of {total} steps done; {where}; raise --timeout, or give --timeout 0 for no limit";
        return new Entry(scenario.File, TimedOut: new TimedOut(scenario.File, scenario.Name, limit, stepsDone, message));
    }

    /// <summary>Steps a worker has finished, read by the waiting thread.</summary>
    private sealed class StepCount
    {
        private int _done;

        public int Done => Volatile.Read(ref _done);

        public void Add() => Interlocked.Increment(ref _done);
    }

    /// <summary>
    /// "i/n FILE" as plain text (Spectre's TaskDescriptionColumn parses it as markup, and a file name is not markup),
    /// cut in the middle of the path when the line is too narrow, so that the file's own name stays visible.
    /// </summary>
    private sealed class PlainDescriptionColumn : ProgressColumn
    {
        /// <summary>The spinner, the bar and the gaps between the columns.</summary>
        private const int OtherColumnsWidth = BarWidth + 4;

        protected override bool NoWrap => true;

        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime)
        {
            var text = task.Description;
            var room = Math.Max(16, options.ConsoleSize.Width - OtherColumnsWidth);
            var counter = text.IndexOf(' ', StringComparison.Ordinal) + 1;
            if (text.Length > room && counter > 0 && counter + 8 < room)
                text = string.Concat(text.AsSpan(0, counter), "…", text.AsSpan(text.Length - (room - counter - 1)));
            return new Text(text).Overflow(Overflow.Ellipsis);
        }
    }
}
