using System.CommandLine;
using System.Globalization;
using System.Reflection;
using Spectre.Console;
using Vmm.Store;

namespace Vmm.Cli;

/// <summary><c>vmm history --store FILE.db</c> lists stored comparisons; <c>vmm history diff A B --store FILE.db</c> shows the metrics that changed between two.</summary>
internal static class HistoryCommand
{
    /// <summary>This vmm's version, as the store records it.</summary>
    public static string Version { get; } =
        typeof(HistoryCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public static Command Create(CliContext context)
    {
        var store = StoreOption();
        var command = new Command("history",
            """
            List the comparisons stored by vmm compare --store FILE.db: id, date, vmm version, seed, stacks and workloads.

            Examples:
              vmm history --store runs.db
              vmm history diff 1 2 --store runs.db
            """)
        {
            store,
        };
        command.SetAction(parseResult => Execute(context, parseResult.GetValue(store)!, database =>
        {
            var runs = database.List();
            if (runs.Count == 0)
            {
                context.Stdout.WriteLine($"{database.Path} holds no comparison yet");
                return ExitCodes.Passed;
            }
            var table = new Table().Border(context.OutConsole.Profile.Capabilities.Unicode ? TableBorder.Rounded : TableBorder.Ascii);
            foreach (var header in new[] { "id", "created (UTC)", "version", "seed", "repeat", "runs", "baseline", "stacks", "workloads" }) table.AddColumn(new TableColumn(new Text(header)));
            foreach (var run in runs)
            {
                table.AddRow(
                    new Text(run.Id.ToString(CultureInfo.InvariantCulture)),
                    new Text(run.Created.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)),
                    new Text(run.Version),
                    new Text(run.Seed.ToString(CultureInfo.InvariantCulture)),
                    new Text(run.Repeat.ToString(CultureInfo.InvariantCulture)),
                    new Text(run.Runs.ToString(CultureInfo.InvariantCulture)),
                    new Text(run.Baseline),
                    new Text(string.Join(", ", run.Stacks)),
                    new Text(string.Join(", ", run.Workloads)));
            }
            context.OutConsole.Write(table);
            return ExitCodes.Passed;
        }));

        var before = new Argument<long>("before") { Description = "The id of the earlier run (see vmm history)." };
        var after = new Argument<long>("after") { Description = "The id of the later run." };
        var diffStore = StoreOption();
        var diff = new Command("diff", "Show every metric whose mean differs between two stored comparisons, by workload and stack.")
        {
            before, after, diffStore,
        };
        diff.SetAction(parseResult => Execute(context, parseResult.GetValue(diffStore)!, database =>
        {
            var (a, b) = (parseResult.GetValue(before), parseResult.GetValue(after));
            var changes = database.Diff(a, b);
            if (changes.Count == 0)
            {
                context.Stdout.WriteLine($"runs {a} and {b} have the same results");
                return ExitCodes.Passed;
            }
            var table = new Table().Border(context.OutConsole.Profile.Capabilities.Unicode ? TableBorder.Rounded : TableBorder.Ascii);
            foreach (var header in new[] { "workload", "stack", "metric", $"run {a}", $"run {b}" }) table.AddColumn(new TableColumn(new Text(header)));
            foreach (var change in changes)
                table.AddRow(new Text(change.Workload), new Text(change.Stack), new Text(change.Metric), new Text(Value(change.Before)), new Text(Value(change.After)));
            context.OutConsole.Write(table);
            context.Stdout.WriteLine($"{changes.Count} values differ between runs {a} and {b}");
            return ExitCodes.Passed;
        }));
        command.Add(diff);
        return command;
    }

    private static Option<string> StoreOption() => new("--store")
    {
        Description = "The SQLite database vmm compare --store wrote.",
        HelpName = "file.db",
        Required = true,
    };

    private static string Value(double? value) => value is { } v ? Hosting.ComparisonTables.Format(v) : "-";

    private static int Execute(CliContext context, string path, Func<ComparisonStore, int> action)
    {
        try
        {
            using var database = ComparisonStore.Open(path, create: false);
            return action(database);
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
}
