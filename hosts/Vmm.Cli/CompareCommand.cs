using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Hosting;
using Vmm.Hosting.Exporters;
using Vmm.Charts;
using Vmm.Store;

namespace Vmm.Cli;

/// <summary>
/// <c>vmm compare [--stack S]... [--workload W]... [--baseline S] [--seed N] [--repeat N] [--set ...]... [--kernel V]
/// [--dump DIR] [--export md,csv,json [--output DIR] [--force]] [--jobs N] [--plugins FILE] [--shard I/N] [--plan]</c>: the same seeded
/// workloads under several protection designs, one table per workload (--shard and --plan: CompareShards).
/// </summary>
internal static class CompareCommand
{
    public static Command Create(CliContext context)
    {
        var stacks = new Option<string[]>("--stack")
        {
            Description = "A design to compare: components joined by '+', then ,section.option=value options, e.g. tdx-ci+hwpoison-v2,hwpoison.trackReason=true. Repeatable. Default: every default stack whose plugins are loaded (see README).",
            HelpName = "stack",
            DefaultValueFactory = _ => [],
        };
        var workloads = new Option<string[]>("--workload")
        {
            Description = "A workload to run (see vmm plugins), comma-separated or repeated. Default: every registered workload.",
            HelpName = "names",
            DefaultValueFactory = _ => [],
        };
        var baseline = new Option<string?>("--baseline")
        {
            Description = $"The stack the Ratio column divides by, written as in --stack (default {Stack.DefaultBaseline}, or the first stack).",
            HelpName = "stack",
        };
        var seed = new Option<int>("--seed")
        {
            Description = "The first seed of the workloads (default 1); the same seed gives the same ops and the same report.",
        };
        var repeat = new Option<int>("--repeat")
        {
            Description = "Run each point with this many seeds (seed, seed+1, ...) and show mean ± standard deviation (default 1).",
        };
        var store = new Option<string?>("--store")
        {
            Description = "Also append the comparison (its exact configuration, seed, vmm version and results) to this SQLite database; vmm history lists what it holds.",
            HelpName = "file.db",
        };
        var file = new Argument<string?>("comparison")
        {
            Description = "A comparison file (JSON: stacks, workloads, baseline, seed, repeat, kernel, options; see docs/compare.md); options given on the command line win.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var set = new Option<string[]>("--set")
        {
            Description = "kind=name puts that component into every stack (e.g. faults=kvm-exit); section.option=value sets an option for every run and workload (e.g. boot.pages=256, linux.earlyKill=true). Repeatable.",
            HelpName = "setting",
            DefaultValueFactory = _ => [],
        };
        var kernel = new Option<string?>("--kernel")
        {
            Description = "Follow this kernel version where versions differ (default: the contract's default).",
            HelpName = "version",
        };
        var dump = new Option<string?>("--dump")
        {
            Description = "Also write every run as a scenario file DIR/WORKLOAD/STACK-seedN.json whose expect is what the run observed (vmm run replays it). DIR must be new or empty unless --force.",
            HelpName = "dir",
        };
        var export = new Option<string[]>("--export")
        {
            Description = $"Also write the comparison into --output as compare.EXTENSION, one file per exporter: {ComparisonExporters.Names}. Comma-separated or repeated.",
            HelpName = "names",
            DefaultValueFactory = _ => [],
        };
        var output = new Option<string?>("--output")
        {
            Description = "The directory --export, --plot and --shard write to (default: the current directory; made if missing).",
            HelpName = "dir",
        };
        var plot = new Option<bool>("--plot")
        {
            Description = "Also draw the charts into --output: compare-safety.png/.svg (safety events per stack) and compare-cost.png/.svg (modelled time against the baseline).",
        };
        var byKind = new Option<bool>("--by-kind")
        {
            Description = "Under each workload's table, also show where the modelled time went: microseconds per event kind (page faults, conversions, shootdowns, ...) for each stack. The Markdown export always has it.",
        };
        var force = new Option<bool>("--force")
        {
            Description = "Let --export and --dump overwrite files that already exist.",
        };
        var jobs = new Option<int>("--jobs")
        {
            Description = "Runs at once (default: one per core). Results do not depend on it.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var shard = new Option<string?>("--shard")
        {
            Description = "Run only the I-th of N disjoint slices of the runs (I from 0 to N-1, as SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX count) and write them into --output as compare-shard-I-of-N.json; vmm merge makes the report (docs/shards.md).",
            HelpName = "I/N",
        };
        var plan = new Option<bool>("--plan")
        {
            Description = "Run nothing but a calibration: print how many runs the comparison has, their estimated cost, and a number of shards to cut it into.",
        };
        var contentsFree = new Option<bool>("--contents-free")
        {
            Description = "Keep no guest bytes (memory.contents=none for every run): the same costs, outcomes and frame metadata in less memory, but leaked B, corrupt, cross-VM B and kvm B are n/a (docs/contents-free.md).",
        };
        var costs = CostsCommand.FileOption();
        var plugins = PluginsCommand.PluginsOption();
        var command = new Command("compare",
            $"""
            Run the same seeded workloads under several protection designs and compare what happened: safety (host
            panics, shutdowns, guests killed, plaintext the host received, silent corruptions, unreported memory
            errors), availability (SIGBUS, EFAULT, EIO, exits, vMCEs) and modelled cost, one table per workload with
            a Ratio column against the baseline, then conclusions in words.

            Examples:
              vmm compare
              vmm compare --workload malicious-vmm,memory-errors --repeat 3
              vmm compare --stack tdx-ci+none --stack tdx-ci+hwpoison-v2 --stack tdx-ci+hwpoison-v2,hwpoison.trackReason=true
              vmm compare --set boot.pages=512 --export md,csv,json --output reports/
              vmm compare --workload malicious-vmm --dump runs/ && vmm run runs/
              vmm compare --plan
              vmm compare --contents-free --workload thp-heavy
              vmm compare --shard 0/4 --output results/   (and 1/4, 2/4, 3/4 elsewhere), then: vmm merge results/ --export json

            Exit codes: 0 the comparison ran; 2 invalid input (an unknown stack component, workload or option, an
            existing export file); 3 internal error.
            """)
        {
            stacks, workloads, baseline, seed, repeat, set, kernel, dump, export, plot, output, force, jobs, store, costs, plugins, file, shard, plan, byKind, contentsFree,
        };
        command.SetAction(parseResult => Execute(context, command, new CompareArguments(
            parseResult.GetValue(stacks) ?? [],
            parseResult.GetValue(workloads) ?? [],
            parseResult.GetValue(baseline),
            parseResult.GetResult(seed) is { Implicit: false } ? parseResult.GetValue(seed) : null,
            parseResult.GetResult(repeat) is { Implicit: false } ? parseResult.GetValue(repeat) : null,
            parseResult.GetValue(set) ?? [],
            parseResult.GetValue(kernel),
            parseResult.GetValue(dump),
            parseResult.GetValue(export) ?? [],
            parseResult.GetValue(plot),
            parseResult.GetValue(output),
            parseResult.GetValue(force),
            parseResult.GetValue(jobs),
            parseResult.GetValue(plugins),
            parseResult.GetValue(store),
            parseResult.GetValue(costs),
            parseResult.GetValue(file))
        {
            Shard = parseResult.GetValue(shard),
            Plan = parseResult.GetValue(plan),
            ByKind = parseResult.GetValue(byKind),
            ContentsFree = parseResult.GetValue(contentsFree),
        }));
        return command;
    }

    private sealed record CompareArguments(
        string[] Stacks, string[] Workloads, string? Baseline, int? Seed, int? Repeat, string[] Sets, string? Kernel,
        string? Dump, string[] Exports, bool Plot, string? Output, bool Force, int Jobs, string? Plugins, string? Store, string? Costs, string? File)
    {
        public string? Shard { get; init; }

        public bool Plan { get; init; }

        public bool ByKind { get; init; }

        public bool ContentsFree { get; init; }
    }

    private static int Execute(CliContext context, Command command, CompareArguments arguments)
    {
        return Guarded(context, () =>
        {
            if (arguments.File is { } given && given.StartsWith('-'))
            {
                context.Error($"unknown option {given}{NameHint.DidYouMean(given, command.Options.Select(o => o.Name))}; see vmm compare --help");
                return ExitCodes.BadInput;
            }
            var kernelOverride = Overrides.Parse(arguments.Kernel, [], out var kernelError);
            if (kernelOverride is null)
            {
                context.Error(kernelError!);
                return ExitCodes.BadInput;
            }
            if (arguments.Jobs < 1)
            {
                context.Error($"--jobs: expected 1 or more, not {arguments.Jobs}");
                return ExitCodes.BadInput;
            }
            if (!CompareShards.Allowed(arguments.Shard, arguments.Plan, arguments.Exports, arguments.Plot, arguments.Store, arguments.Dump, arguments.Output, arguments.Force, out var shard, out var shardError))
            {
                context.Error(shardError!);
                return ExitCodes.BadInput;
            }
            // A shard writes its own file into --output (CompareShards); only a whole comparison exports.
            var exports = ParseExports(arguments.Exports, shard is null ? arguments.Output : null, arguments.Force, arguments.Plot, out var exportError);
            if (exports is null)
            {
                context.Error(exportError!);
                return ExitCodes.BadInput;
            }
            if (arguments.Dump is { } dumpDirectory && !DumpAllowed(dumpDirectory, arguments.Force, out var dumpError))
            {
                context.Error(dumpError!);
                return ExitCodes.BadInput;
            }

            using var host = VmmHost.Load(PluginsLocator.FindAll(arguments.Plugins, arguments.File is { } near ? [near] : null), context.ConfigureServices);
            var runner = new ComparisonRunner(host);
            var comparison = Build(host, runner, arguments, kernelOverride.Kernel);
            if (arguments.Plan) return CompareShards.Plan(context, runner, comparison);
            if (shard is { } slice) return CompareShards.Run(context, host, runner, comparison, slice, arguments.Output, arguments.Force);
            using var database = arguments.Store is { } storePath ? ComparisonStore.Open(storePath) : null;
            var report = RunWithProgress(context, runner, comparison.RunCount, () => runner.Run(comparison));
            var written = WriteReport(context, report, comparison, database, exports, arguments.Plot, arguments.Output, arguments.Force, storeAgain: true, arguments.ByKind);
            if (written != ExitCodes.Passed) return written;
            if (arguments.Dump is { } dumped) context.Error($"wrote {report.Runs} scenario files below {dumped}; replay them with: vmm run {dumped}");
            return ExitCodes.Passed;
        });
    }

    /// <summary>Runs a comparison command's body (compare, merge): bad plugins, comparisons or stores are one line and exit 2, anything else an internal error.</summary>
    internal static int Guarded(CliContext context, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (PluginLoadException e)
        {
            context.Error(e.Message);
            return ExitCodes.BadInput;
        }
        catch (ComparisonException e)
        {
            context.Error(e.Message);
            return ExitCodes.BadInput;
        }
        catch (StoreException e)
        {
            context.Error($"--store: {e.Message}");
            return ExitCodes.BadInput;
        }
        catch (Exception e)
        {
            return context.InternalError(e);
        }
    }

    /// <summary>
    /// The report's tables on stdout, then --store, --export and --plot: what vmm compare and vmm merge both write.
    /// <paramref name="storeAgain"/> false leaves a store that already holds this very run (configuration, version and report) as it is.
    /// </summary>
    internal static int WriteReport(
        CliContext context, ComparisonReport report, Comparison comparison, ComparisonStore? database, IReadOnlyList<(IComparisonExporter, string)> exports,
        bool plot, string? output, bool force, bool storeAgain, bool byKind = false)
    {
        Write(context.OutConsole, report, byKind);
        if (database is not null)
        {
            var configuration = ComparisonFile.ToJson(comparison);
            if (!storeAgain && database.Find(report, configuration, HistoryCommand.Version) is { } stored)
                context.Error($"already stored as run {stored} in {database.Path}; not added again");
            else
            {
                var id = database.Append(report, configuration, HistoryCommand.Version);
                context.Error($"stored as run {id} in {database.Path}; see: vmm history --store {database.Path}");
            }
        }
        foreach (var (exporter, file) in exports)
        {
            try
            {
                var directory = Path.GetDirectoryName(file);
                if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
                using var stream = new FileStream(file, force ? FileMode.Create : FileMode.CreateNew, FileAccess.Write);
                using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false));
                exporter.Export(report, writer);
                context.Error($"wrote {file}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                context.Error($"--export: cannot write {file}: {e.Message}");
                return ExitCodes.BadInput;
            }
        }
        if (plot)
        {
            var directory = output ?? ".";
            try
            {
                Directory.CreateDirectory(directory);
                foreach (var chart in ComparisonCharts.From(report))
                {
                    var png = Path.Combine(directory, $"compare-{chart.Name}.png");
                    var svg = Path.Combine(directory, $"compare-{chart.Name}.svg");
                    ChartRenderer.Save(chart, png, svg);
                    context.Error($"wrote {png} and {svg}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                context.Error($"--plot: cannot write into {directory}: {e.Message}");
                return ExitCodes.BadInput;
            }
        }
        return ExitCodes.Passed;
    }

    private static Comparison Build(VmmHost host, ComparisonRunner runner, CompareArguments arguments, KernelVersion? kernel)
    {
        var defaults = runner.Default();
        if (arguments.File is { } file) defaults = ComparisonFile.Read(file, host.Components, defaults);
        var everyStack = new Dictionary<ComponentKind, string>();
        var options = new List<KeyValuePair<string, string>>(CostsCommand.Read(arguments.Costs));
        if (arguments.ContentsFree) options.Add(new($"{MemoryOptions.Section}.contents", "none"));
        foreach (var setting in arguments.Sets)
        {
            var equals = setting.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || equals == setting.Length - 1)
                throw new ComparisonException($"--set: expected kind=name (faults=kvm-exit) or section.option=value (boot.pages=256), not \"{setting}\"");
            var key = setting[..equals];
            if (key.Contains('.', StringComparison.Ordinal)) options.Add(new(key, setting[(equals + 1)..]));
            else if (ComponentKinds.TryParse(key, out var kind)) everyStack[kind] = setting[(equals + 1)..];
            else throw new ComparisonException($"--set: \"{key}\" is neither a component kind ({string.Join(", ", ComponentKind.WellKnown.Select(k => k.Name))}) nor section.option");
        }
        var stacks = arguments.Stacks.Length > 0
            ? arguments.Stacks.Select(s => Stack.Parse(s, host.Components)).ToList()
            : defaults.Stacks.ToList();
        if (everyStack.Count > 0)
        {
            foreach (var (kind, name) in everyStack)
                if (!host.Components.Any(c => c.Kind == kind && c.Name == name))
                    throw new ComparisonException($"--set {kind.Name}={name}: no {kind.Name} \"{name}\" is registered; known: {string.Join(", ", host.Components.Where(c => c.Kind == kind).Select(c => c.Name))}");
            stacks = stacks.Select(s =>
            {
                var components = new Dictionary<ComponentKind, string>(s.Components);
                foreach (var (kind, name) in everyStack) components[kind] = name;
                return s with { Components = components };
            }).ToList();
        }
        var workloads = arguments.Workloads.Length > 0
            ? arguments.Workloads.SelectMany(w => w.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).Distinct(StringComparer.Ordinal).ToList()
            : defaults.Workloads.ToList();
        var baseline = arguments.Baseline
            ?? (arguments.Stacks.Length == 0 ? defaults.Baseline
                : stacks.Any(s => s.Label == Stack.DefaultBaseline) ? Stack.DefaultBaseline : stacks.FirstOrDefault()?.Label ?? Stack.DefaultBaseline);
        return defaults with
        {
            Stacks = stacks,
            Workloads = workloads,
            Baseline = baseline,
            Seed = arguments.Seed ?? defaults.Seed,
            Repeat = arguments.Repeat ?? defaults.Repeat,
            Kernel = kernel ?? defaults.Kernel,
            Options = [.. defaults.Options, .. options],
            Parallelism = arguments.Jobs,
            DumpDirectory = arguments.Dump,
        };
    }

    /// <summary>The files --export NAMES writes into <paramref name="output"/>, or null and the message when one exists (without --force) or a name is unknown; vmm merge applies the same rules.</summary>
    internal static List<(IComparisonExporter, string)>? ParseExports(string[] exports, string? output, bool force, bool plot, out string? error)
    {
        error = null;
        var targets = new List<(IComparisonExporter, string)>();
        var directory = output ?? ".";
        foreach (var name in exports.SelectMany(n => n.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)))
        {
            var exporter = ComparisonExporters.Find(name);
            if (exporter is null)
            {
                error = $"--export: unknown exporter \"{name}\"; known: {ComparisonExporters.Names}";
                return null;
            }
            var file = Path.Combine(directory, $"compare.{exporter.FileExtension}");
            if (targets.Any(t => t.Item2 == file)) continue;
            if (!force && (File.Exists(file) || Directory.Exists(file)))
            {
                error = $"--export: {file} already exists; give --force to overwrite it, or another --output";
                return null;
            }
            targets.Add((exporter, file));
        }
        if (exports.Length > 0 && targets.Count == 0)
        {
            error = $"--export: name at least one exporter: {ComparisonExporters.Names}";
            return null;
        }
        if (targets.Count == 0 && !plot && output is not null)
        {
            error = $"--output: give --export or --plot too, e.g. --export md,csv --output {output}";
            return null;
        }
        if (plot && !force)
        {
            foreach (var chart in new[] { "safety", "cost" })
                foreach (var extension in new[] { "png", "svg" })
                {
                    var file = Path.Combine(directory, $"compare-{chart}.{extension}");
                    if (File.Exists(file) || Directory.Exists(file))
                    {
                        error = $"--plot: {file} already exists; give --force to overwrite it, or another --output";
                        return null;
                    }
                }
        }
        if (File.Exists(directory))
        {
            error = $"--output: {directory} is a file; name a directory (it is made if missing)";
            return null;
        }
        return targets;
    }

    private static bool DumpAllowed(string directory, bool force, out string? error)
    {
        error = null;
        if (File.Exists(directory))
        {
            error = $"--dump: {directory} is a file; name a directory (it is made if missing)";
            return false;
        }
        if (!force && Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
        {
            error = $"--dump: {directory} is not empty; give --force to write into it (files of the same name are replaced), or name a new directory";
            return false;
        }
        return true;
    }

    /// <summary>Runs <paramref name="run"/> (<paramref name="total"/> runs of <paramref name="runner"/>) with a progress bar on a terminal.</summary>
    internal static T RunWithProgress<T>(CliContext context, ComparisonRunner runner, int total, Func<T> run)
        where T : class
    {
        var console = context.ErrorConsole;
        if (!console.Profile.Capabilities.Interactive) return run();
        T? report = null;
        ConsoleCancelEventHandler showCursor = (_, _) => console.Cursor.Show();
        Console.CancelKeyPress += showCursor;
        try
        {
            console.Progress()
                .AutoClear(true)
                .Columns(new SpinnerColumn(), new ProgressBarColumn { Width = 20 }, new TaskDescriptionColumn { Alignment = Justify.Left })
                .Start(progress =>
                {
                    var task = progress.AddTask($"0/{total} runs", maxValue: Math.Max(1, total));
                    runner.RunFinished += done =>
                    {
                        task.Value = done.Done;
                        task.Description = Markup.Escape($"{done.Done}/{done.Total} runs ({done.Workload} under {done.Stack})");
                    };
                    report = run();
                });
        }
        finally
        {
            Console.CancelKeyPress -= showCursor;
        }
        return report!;
    }

    internal static void Write(IAnsiConsole console, ComparisonReport report, bool byKind)
    {
        foreach (var (table, time) in ComparisonTables.From(report).Zip(ComparisonTables.TimeByKind(report)))
        {
            WriteTable(console, table);
            if (byKind) WriteTable(console, time);
        }
        if (report.Claims.Count > 0)
        {
            console.Write(new Text("The reviewers' claims" + Environment.NewLine, new Style(decoration: Decoration.Bold)));
            foreach (var claim in report.Claims)
            {
                var colour = claim.Status switch { ClaimStatus.Holds => Color.Green, ClaimStatus.Refuted => Color.Red, _ => Color.Yellow };
                console.Write(new Paragraph()
                    .Append($"  {claim.StatusText,-12} ", new Style(colour, decoration: Decoration.Bold))
                    .Append(claim.Claim)
                    .Append($" ({claim.Source}; workload {claim.Workload})", new Style(decoration: Decoration.Dim)));
                console.WriteLine();
                console.Write(new Text($"               {claim.Evidence}{Environment.NewLine}", new Style(decoration: Decoration.Dim)));
            }
            console.WriteLine();
        }
        if (report.Conclusions.Count > 0)
        {
            console.Write(new Text("Conclusions" + Environment.NewLine, new Style(decoration: Decoration.Bold)));
            foreach (var line in report.Conclusions) console.Write(new Text("  " + line + Environment.NewLine));
            console.WriteLine();
        }
        console.Write(new Text(ComparisonTables.Summary(report) + Environment.NewLine));
    }

    private static void WriteTable(IAnsiConsole console, ComparisonTable table)
    {
        console.Write(new Paragraph().Append(table.Workload, new Style(decoration: Decoration.Bold)).Append(": " + table.Description, new Style(decoration: Decoration.Dim)));
        console.WriteLine();
        if (NaturalWidth(table.Table) > console.Profile.Width)
        {
            WriteAsList(console, table);
            return;
        }
        var grid = new Table().Border(console.Profile.Capabilities.Unicode ? TableBorder.Rounded : TableBorder.Ascii);
        foreach (var column in table.Table.Columns)
        {
            var added = new TableColumn(new Text(column.Header));
            grid.AddColumn(column.Alignment == ColumnAlignment.Right ? added.RightAligned() : added);
        }
        foreach (var row in table.Table.Rows)
            grid.AddRow(row.Cells.Select(cell => new Text(cell.Text, StyleOf(cell.Style))));
        console.Write(grid);
        foreach (var line in table.Legend) console.Write(new Text("  " + line + Environment.NewLine, new Style(decoration: Decoration.Dim)));
        console.WriteLine();
    }

    /// <summary>The width the table needs without wrapping a cell: each column's widest text, its padding and borders.</summary>
    private static int NaturalWidth(ConsoleTable table) =>
        1 + table.Columns.Select((column, i) => Math.Max(column.Header.Length, table.Rows.Max(r => r.Cells[i].Text.Length)) + 3).Sum();

    /// <summary>A terminal too narrow for the table gets one line per stack ("metric value, ..."), which wraps cleanly.</summary>
    private static void WriteAsList(IAnsiConsole console, ComparisonTable table)
    {
        foreach (var row in table.Table.Rows)
        {
            var line = new Paragraph().Append("  ").Append(row.Cells[0].Text, StyleOf(row.Cells[0].Style));
            if (row.Cells[1].Text.Length > 0) line.Append($" ({row.Cells[1].Text})", StyleOf(ConsoleStyle.Muted));
            line.Append(":");
            for (var i = 2; i < row.Cells.Count; i++)
            {
                line.Append(i == 2 ? " " : ", ").Append(table.Table.Columns[i].Header + " ", StyleOf(ConsoleStyle.Muted));
                line.Append(row.Cells[i].Text, StyleOf(row.Cells[i].Style));
            }
            console.Write(line);
            console.WriteLine();
        }
        foreach (var legendLine in table.Legend) console.Write(new Text("  " + legendLine + Environment.NewLine, new Style(decoration: Decoration.Dim)));
        console.WriteLine();
    }

    private static Style StyleOf(ConsoleStyle style) => style switch
    {
        ConsoleStyle.Emphasis => new Style(decoration: Decoration.Bold),
        ConsoleStyle.Muted => new Style(decoration: Decoration.Dim),
        ConsoleStyle.Failure => new Style(Color.Red),
        _ => Style.Plain,
    };

    internal static string Invariant(double value) => value.ToString(CultureInfo.InvariantCulture);
}
