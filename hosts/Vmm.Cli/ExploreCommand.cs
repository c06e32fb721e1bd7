using System.CommandLine;
using Spectre.Console;
using Vmm.Hosting;
using Vmm.Hosting.Exploration;

namespace Vmm.Cli;

/// <summary>
/// <c>vmm explore --stack S [--goal G] [--budget 60s|N] [--seed N] [--depth K] [--pages N] [--actors vmm,kernel,device,hw]
/// [--exhaustive] [--output DIR] [--kernel V] [--jobs N] [--plugins FILE]</c>: search for an op sequence that breaks a
/// design, shrink it, and write it as a scenario that <c>vmm run</c> replays.
/// </summary>
internal static class ExploreCommand
{
    public static Command Create(CliContext context)
    {
        var stack = new Option<string?>("--stack")
        {
            Description = "The design to explore, written as in vmm compare: components joined by '+', then ,section.option=value, e.g. tdx-ci+hwpoison-v2,hwpoison.trackReason=true.",
            HelpName = "stack",
        };
        var goal = new Option<string>("--goal")
        {
            Description = $"What to look for: {string.Join(", ", ExploreGoal.Names)} (default any). Each is the vmm compare safety metric of that name.",
            HelpName = "goal",
            DefaultValueFactory = _ => ExploreGoal.Any.Name,
        };
        var budget = new Option<string?>("--budget")
        {
            Description = "When to give up: a time (60s, 5m, 1h) or a number of sequences (2000). Default 60s.",
            HelpName = "time|count",
        };
        var seed = new Option<int>("--seed")
        {
            Description = "The search's seed (default 1): the same seed finds the same sequence, whatever the number of cores.",
            DefaultValueFactory = _ => 1,
        };
        var depth = new Option<int?>("--depth")
        {
            Description = $"The most steps a sequence has (default {ExploreOptions.DefaultSearchDepth}); with --exhaustive, the depth enumerated (default {ExploreOptions.DefaultExhaustiveDepth}).",
            HelpName = "steps",
        };
        var pages = new Option<int?>("--pages")
        {
            Description = ExploreOptions.DefaultSearchPages == ExploreOptions.DefaultExhaustivePages
                ? $"The VM's size in 4 KiB pages (default {ExploreOptions.DefaultSearchPages})."
                : $"The VM's size in 4 KiB pages (default {ExploreOptions.DefaultSearchPages}; {ExploreOptions.DefaultExhaustivePages} with --exhaustive).",
            HelpName = "n",
        };
        var actors = new Option<string?>("--actors")
        {
            Description = $"The host-side actors that may act, comma-separated: {string.Join(", ", ExploreOp.ActorNames.Keys)} (default all). The guest always acts.",
            HelpName = "names",
        };
        var exhaustive = new Option<bool>("--exhaustive")
        {
            Description = "Enumerate every sequence up to --depth over the alphabet (each op at each page, default sizes) with state deduplication, as TLC does, instead of searching at random.",
        };
        var output = new Option<string?>("--output")
        {
            Description = "The directory the scenario is written to (default: the current directory; made if missing). An existing file is never replaced: the name gets -2, -3, ...",
            HelpName = "dir",
        };
        var kernel = new Option<string?>("--kernel")
        {
            Description = "Follow this kernel version where versions differ (default: the contract's default, or what the design needs).",
            HelpName = "version",
        };
        var jobs = new Option<int>("--jobs")
        {
            Description = "Sequences run at once (default: one per core). Findings do not depend on it.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var plugins = PluginsCommand.PluginsOption();
        var command = new Command("explore",
            $"""
            Search for a sequence of host, kernel, device and hardware actions that makes a design panic, shut down,
            kill its guest, leak guest plaintext, corrupt guest data silently, lose a real memory error or leak frames,
            as syzkaller does: random op sequences, a corpus of those that showed new behaviour, mutation and splicing.
            A violation is shrunk to its fewest and smallest steps and written as a scenario file whose expect is what
            each step observed, so vmm run replays it. --exhaustive enumerates every sequence up to --depth instead.

            Examples:
              vmm explore --stack tdx-ci+none --goal host-panic
              vmm explore --stack plain+hwpoison-v1 --goal plaintext-leak --budget 2000 --output found/
              vmm explore --stack tdx-ci+guest-memfd --goal host-panic --actors vmm --exhaustive --depth 3

            Exit codes: 0 a violation was found and written; 1 none within the budget (or up to the depth);
            2 invalid input; 3 internal error.
            """)
        {
            stack, goal, budget, seed, depth, pages, actors, exhaustive, output, kernel, jobs, plugins,
        };
        command.SetAction(parseResult => Execute(context, new ExploreArguments(
            parseResult.GetValue(stack),
            parseResult.GetValue(goal) ?? ExploreGoal.Any.Name,
            parseResult.GetValue(budget),
            parseResult.GetValue(seed),
            parseResult.GetValue(depth),
            parseResult.GetValue(pages),
            parseResult.GetValue(actors),
            parseResult.GetValue(exhaustive),
            parseResult.GetValue(output),
            parseResult.GetValue(kernel),
            parseResult.GetValue(jobs),
            parseResult.GetValue(plugins))));
        return command;
    }

    private sealed record ExploreArguments(
        string? Stack, string Goal, string? Budget, int Seed, int? Depth, int? Pages, string? Actors, bool Exhaustive,
        string? Output, string? Kernel, int Jobs, string? Plugins);

    private static int Execute(CliContext context, ExploreArguments arguments)
    {
        try
        {
            if (arguments.Stack is null)
            {
                context.Error("explore: give the design to explore with --stack, e.g. --stack tdx-ci+hwpoison-v2");
                return ExitCodes.BadInput;
            }
            var kernelOverride = Overrides.Parse(arguments.Kernel, [], out var kernelError);
            if (kernelOverride is null)
            {
                context.Error(kernelError!);
                return ExitCodes.BadInput;
            }
            var directory = arguments.Output ?? ".";
            if (File.Exists(directory))
            {
                context.Error($"--output: {directory} is a file; name a directory (it is made if missing)");
                return ExitCodes.BadInput;
            }
            var goal = ExploreGoal.Parse(arguments.Goal);
            var budget = arguments.Budget is { } text ? ExploreBudget.Parse(text) : ExploreBudget.Default;
            var actors = ExploreOp.ParseActors(arguments.Actors);

            using var host = VmmHost.Load(PluginsLocator.Find(arguments.Plugins), context.ConfigureServices);
            var options = new ExploreOptions
            {
                Stack = Stack.Parse(arguments.Stack, host.Components),
                Goal = goal,
                Budget = budget,
                Seed = arguments.Seed,
                Depth = arguments.Depth,
                Pages = arguments.Pages,
                Actors = actors,
                Exhaustive = arguments.Exhaustive,
                Kernel = kernelOverride.Kernel,
                Jobs = arguments.Jobs,
            };
            Explorer.Check(options);
            var explorer = new Explorer(host);
            var report = RunWithProgress(context, explorer, options);
            var console = context.OutConsole;
            console.Write(new Text(report.Summary + Environment.NewLine, new Style(decoration: Decoration.Bold)));
            if (report.Finding is not { } finding) return ExitCodes.Failed;
            var grid = new Table().Border(console.Profile.Capabilities.Unicode ? TableBorder.Rounded : TableBorder.Ascii);
            grid.AddColumn(new TableColumn(new Text("#")).RightAligned());
            grid.AddColumn(new TableColumn(new Text("step")));
            grid.AddColumn(new TableColumn(new Text("observed")));
            foreach (var step in finding.Steps) grid.AddRow(new Text(step.Index.ToString(System.Globalization.CultureInfo.InvariantCulture)), new Text(step.Step), new Text(step.Outcome));
            console.Write(grid);
            string file;
            try
            {
                file = explorer.Write(report, directory);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                context.Error($"--output: cannot write into {directory}: {e.Message}");
                return ExitCodes.BadInput;
            }
            if (finding.Bug is not null)
            {
                context.Error($"wrote the failing sequence to {file}; vmm run {file} shows the failure. Please report it.");
                return ExitCodes.InternalError;
            }
            console.Write(new Text($"wrote {file}; replay it with: vmm run {file}{Environment.NewLine}"));
            return ExitCodes.Passed;
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
        catch (ExploreException e)
        {
            context.Error(e.Message);
            return ExitCodes.BadInput;
        }
        catch (Exception e)
        {
            return context.InternalError(e);
        }
    }

    private static ExploreReport RunWithProgress(CliContext context, Explorer explorer, ExploreOptions options)
    {
        var console = context.ErrorConsole;
        if (!console.Profile.Capabilities.Interactive) return explorer.Run(options);
        ExploreReport? report = null;
        ConsoleCancelEventHandler showCursor = (_, _) => console.Cursor.Show();
        Console.CancelKeyPress += showCursor;
        try
        {
            console.Progress()
                .AutoClear(true)
                .Columns(new SpinnerColumn(), new ElapsedTimeColumn(), new TaskDescriptionColumn { Alignment = Justify.Left })
                .Start(progress =>
                {
                    var task = progress.AddTask(options.Exhaustive ? $"depth 0/{options.EffectiveDepth} done" : "0 sequences tried, corpus 0, 0 behaviours", maxValue: 1);
                    progress.Refresh();
                    explorer.Progress += p => task.Description = Markup.Escape(options.Exhaustive
                        ? $"depth {p.Depth}/{options.EffectiveDepth} done: {p.Tried} sequences, {p.States} distinct states"
                        : $"{p.Tried} sequences tried, corpus {p.Corpus}, {p.Behaviours} behaviours");
                    explorer.Shrinking += n => task.Description = Markup.Escape($"found a violation in {n} steps; shrinking");
                    report = explorer.Run(options);
                });
        }
        finally
        {
            Console.CancelKeyPress -= showCursor;
        }
        return report!;
    }
}
