using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;
using Vmm.Hosting;
using Vmm.Hosting.Exporters;

namespace Vmm.Cli;

/// <summary><c>vmm run [--json] [--kernel V] [--set kind=name]... [--timeout S] [--keep-going] [--export md,json [--output DIR] [--force]] [--plugins FILE] PATH...</c> (scenario-format.md, "Running").</summary>
internal static class RunCommand
{
    /// <summary>The per-scenario time limit when <c>--timeout</c> is not given, in seconds.</summary>
    public const double DefaultTimeoutSeconds = 60;

    private const double MaxTimeoutSeconds = 1_000_000;

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
        var export = new Option<string[]>("--export")
        {
            Description = $"Also write the run as files in --output, one per exporter: {RunExporters.Names} (run.json, run.md). Comma-separated or repeated.",
            HelpName = "names",
            DefaultValueFactory = _ => [],
        };
        var output = new Option<string?>("--output")
        {
            Description = "The directory --export writes to (default: the current directory; made if missing). An existing file is never overwritten without --force.",
            HelpName = "dir",
        };
        var force = new Option<bool>("--force")
        {
            Description = "Let --export overwrite files that already exist.",
        };
        var contentsFree = new Option<bool>("--contents-free")
        {
            Description = "Run without guest bytes (memory.contents \"none\" in every scenario): the same outcomes and costs, but an expect's data is not checked and the scenario warns which steps had some (docs/contents-free.md).",
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
              vmm run --export md,json --output reports/ scenarios/

            The last line is "N scenarios, P passed, F failed", followed by the counts of invalid, timed-out
            and internally failed files when there are any. --export md,json --output DIR also writes the run
            as DIR/run.md (a table per scenario) and DIR/run.json (the --json document); an existing file is
            an error (exit 2) unless --force is given.

            Exit codes: 0 every expectation met; 1 some expectation failed (each failure shows step, op,
            expected and actual) or a scenario ran past --timeout; 2 invalid input (file, JSON, schema, unknown
            op, component or option), reported as "vmm: FILE:LINE:COLUMN: message", also with --keep-going;
            3 internal error. The first that applies of 2, 3, 1 wins.
            """)
        {
            json, kernel, set, timeout, keepGoing, export, output, force, plugins, verbose, contentsFree, paths,
        };
        command.SetAction(parseResult => Execute(context, new RunArguments(
            parseResult.GetValue(paths) ?? [],
            parseResult.GetValue(json),
            parseResult.GetValue(kernel),
            parseResult.GetValue(set) ?? [],
            parseResult.GetValue(plugins),
            parseResult.GetValue(verbose),
            parseResult.GetValue(timeout),
            parseResult.GetValue(keepGoing),
            parseResult.GetValue(export) ?? [],
            parseResult.GetValue(output),
            parseResult.GetValue(force))
        {
            ContentsFree = parseResult.GetValue(contentsFree),
        }));
        return command;
    }

    private sealed record RunArguments(
        string[] Paths, bool Json, string? Kernel, string[] Sets, string? Plugins, bool Verbose, double TimeoutSeconds, bool KeepGoing,
        string[] Exports, string? Output, bool Force)
    {
        public bool ContentsFree { get; init; }
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
            overrides = overrides with { ContentsFree = arguments.ContentsFree };
            if (!(arguments.TimeoutSeconds is >= 0 and <= MaxTimeoutSeconds))
            {
                context.Error($"--timeout: expected a number of seconds from 0 (no limit) to {MaxTimeoutSeconds:0}, not {arguments.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)}");
                return ExitCodes.BadInput;
            }
            var exports = Exports.Parse(arguments.Exports, arguments.Output, arguments.Force, out var exportError);
            if (exports is null)
            {
                context.Error(exportError!);
                return ExitCodes.BadInput;
            }

            using var host = VmmHost.Load(PluginsLocator.FindAll(arguments.Plugins, arguments.Paths), context.ConfigureServices);
            var batch = new ScenarioBatch(host, new BatchOptions
            {
                Overrides = overrides,
                Timeout = arguments.TimeoutSeconds == 0 ? null : TimeSpan.FromSeconds(arguments.TimeoutSeconds),
                TimeoutGrace = context.TimeoutGrace,
                KeepGoing = arguments.KeepGoing,
            })
            {
                Tick = Tick,
            };
            var plan = batch.Prepare(arguments.Paths);
            if (plan.IsEmpty)
            {
                context.Error($"no *.json scenario files in {string.Join(", ", arguments.Paths)}");
                return ExitCodes.BadInput;
            }
            foreach (var warning in plan.Warnings) context.Error(warning.ToString());
            foreach (var error in plan.Invalid) context.Error(error.ToString());
            foreach (var broken in plan.Broken) context.Error(broken.Message);

            var report = RunAll(context, batch, plan);
            if (!report.Ran)
            {
                if (plan.Valid.Count > 0)
                    context.Error(plan.Broken.Count == 0
                        ? $"{plan.Invalid.Count} of {plan.Files.Count} files are invalid, so none was run; --keep-going runs the valid ones"
                        : $"{plan.Invalid.Count + plan.Broken.Count} of {plan.Files.Count} files could not be validated, so none was run; --keep-going runs the others");
                if (arguments.Json) JsonExporter.Default.Export(report, context.Stdout);
            }
            else if (arguments.Json)
                JsonExporter.Default.Export(report, context.Stdout);
            else
                RunTables.Write(context.OutConsole, report, arguments.Verbose || report.Scenarios.Count <= 3);
            if (!exports.Write(context, report)) return ExitCodes.BadInput;

            if (report.Errors.Count > 0) return ExitCodes.BadInput;
            if (report.InternalErrors.Count > 0) return ExitCodes.InternalError;
            return report.Tally.AllPassed ? ExitCodes.Passed : ExitCodes.Failed;
        }
        catch (PluginLoadException e)
        {
            context.Error(e.Message);
            return ExitCodes.BadInput;
        }
        catch (InvalidScenarioException e)
        {
            context.Error(e.ToString());
            return ExitCodes.BadInput;
        }
        catch (Exception e)
        {
            return context.InternalError(e);
        }
    }

    /// <summary>
    /// Runs the plan's scenarios. On an interactive stderr a progress bar shows the running file; otherwise a scenario
    /// still running after a second gets a line. A file that does not finish is reported on stderr as soon as it ends.
    /// </summary>
    private static RunReport RunAll(CliContext context, ScenarioBatch batch, BatchPlan plan)
    {
        var console = context.ErrorConsole;
        var runs = plan.Valid.Count > 0 && (!plan.HasProblems || batch.Options.KeepGoing);
        if (runs && console.Profile.Capabilities.Interactive)
        {
            // Ctrl+C ends vmm at once; give the terminal back its cursor, which the live display hides.
            ConsoleCancelEventHandler showCursor = (_, _) => console.Cursor.Show();
            Console.CancelKeyPress += showCursor;
            try
            {
                return RunWithProgress(console, batch, plan);
            }
            finally
            {
                Console.CancelKeyPress -= showCursor;
            }
        }

        var announced = false;
        batch.ScenarioStarting += _ => announced = false;
        batch.ScenarioWaiting += (item, elapsed) =>
        {
            if (announced || elapsed < SlowAfter) return;
            announced = true;
            context.Error($"[{item.Number}/{item.Count}] running {item.File}...");
        };
        batch.ScenarioFinished += (_, entry) =>
        {
            if (entry.Message is { } message) context.Error(message);
        };
        return batch.Run(plan);
    }

    private static RunReport RunWithProgress(IAnsiConsole console, ScenarioBatch batch, BatchPlan plan)
    {
        RunReport? report = null;
        // Refreshed from this thread only, while waiting for each worker: a render error can then never escape on Spectre's own thread.
        console.Progress()
            .AutoRefresh(false)
            .AutoClear(true)
            .Columns(new SpinnerColumn(), new ProgressBarColumn { Width = BarWidth }, new PlainDescriptionColumn())
            .Start(progress =>
            {
                var task = progress.AddTask("scenarios", maxValue: plan.Valid.Count);
                var label = "";
                batch.ScenarioStarting += item =>
                {
                    label = $"{item.Number}/{item.Count} {item.File}";
                    task.Description = label;
                    progress.Refresh();
                };
                batch.ScenarioWaiting += (_, elapsed) =>
                {
                    if (elapsed >= SlowAfter) task.Description = $"{label} ({elapsed.TotalSeconds:0} s)";
                    progress.Refresh();
                };
                batch.ScenarioFinished += (_, entry) =>
                {
                    if (entry.Message is { } message) console.Write(new Text($"vmm: {message}{Environment.NewLine}"));
                    task.Increment(1);
                };
                report = batch.Run(plan);
                progress.Refresh();
            });
        return report!;
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
