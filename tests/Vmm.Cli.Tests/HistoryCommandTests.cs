using Vmm.Cli.Tests.Infrastructure;
using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

/// <summary><c>vmm compare --store</c>, <c>vmm history</c> and <c>vmm history diff</c> on a real SQLite file; comparison files.</summary>
public sealed class HistoryCommandTests
{
    private static readonly string RepositoryPlugins = Path.Combine(TestPaths.RepoRoot, "plugins.json");

    private static CliResult Vmm(CliHarness cli, params string[] args)
    {
        cli.Machines = null;
        return cli.Vmm([args[0], "--plugins", RepositoryPlugins, .. args[1..]]);
    }

    private static CliResult History(CliHarness cli, params string[] args)
    {
        cli.Machines = null;
        return cli.Vmm(["history", .. args]);
    }

    [Fact]
    public void Store_TwoComparisons_HistoryListsBothAndDiffShowsWhatChanged()
    {
        using var cli = new CliHarness();
        var db = Path.Combine(cli.Directory, "runs.db");

        var first = Vmm(cli, "compare", "--workload", "boot", "--stack", "tdx-ci+none", "--set", "boot.pages=16", "--store", db);
        var second = Vmm(cli, "compare", "--workload", "boot", "--stack", "tdx-ci+none", "--set", "boot.pages=32", "--store", db);
        var list = History(cli, "--store", db);
        var diff = History(cli, "diff", "1", "2", "--store", db);
        var same = History(cli, "diff", "1", "1", "--store", db);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains($"vmm: stored as run 1 in {db}; see: vmm history --store {db}", first.Stderr, StringComparison.Ordinal);
        Assert.Contains($"vmm: stored as run 2 in {db}", second.Stderr, StringComparison.Ordinal);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Matches(@"│ 1\s+│ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d │", list.Stdout);
        Assert.Matches(@"│ 2\s+│", list.Stdout);
        Assert.True(diff.ExitCode == 0, diff.ToString());
        Assert.Matches(@"│ boot\s+│ tdx-ci\+none │ model µs\s+│ \d+\s+│ \d+\s+│", diff.Stdout);
        Assert.Matches(@"\d+ values differ between runs 1 and 2", diff.Stdout);
        Assert.Equal("runs 1 and 1 have the same results" + Environment.NewLine, same.Stdout);
    }

    [Fact]
    public void History_BadStoreOrId_OneLineAndExit2_AndAForeignFileIsNotTouched()
    {
        using var cli = new CliHarness();
        var foreign = cli.Write("mine.db", "not a database");
        var db = Path.Combine(cli.Directory, "runs.db");
        Vmm(cli, "compare", "--workload", "boot", "--stack", "tdx-ci+none", "--set", "boot.pages=8", "--store", db);

        var missing = History(cli, "--store", Path.Combine(cli.Directory, "none.db"));
        var wrongId = History(cli, "diff", "1", "7", "--store", db);
        var notAStore = Vmm(cli, "compare", "--workload", "boot", "--stack", "tdx-ci+none", "--store", foreign);

        Assert.Equal((2, $"vmm: --store: {Path.Combine(cli.Directory, "none.db")}: no such store; make one with vmm compare --store {Path.Combine(cli.Directory, "none.db")}\n"), (missing.ExitCode, missing.Stderr.ReplaceLineEndings("\n")));
        Assert.Equal((2, $"vmm: --store: {db} has no run 7; it has 1 (see vmm history --store {db})\n"), (wrongId.ExitCode, wrongId.Stderr.ReplaceLineEndings("\n")));
        Assert.Equal(2, notAStore.ExitCode);
        Assert.StartsWith($"vmm: --store: {foreign} is not a vmm store", notAStore.Stderr, StringComparison.Ordinal);
        Assert.Equal("not a database", File.ReadAllText(foreign));
        Assert.Equal("", notAStore.Stdout);
    }

    [Fact]
    public void ComparisonFile_GivesStacksWorkloadsAndOptions_CommandLineWins()
    {
        using var cli = new CliHarness();
        var file = cli.Write("cmp.json", """
            { "stacks": ["tdx-ci+none", "tdx-ci+hwpoison-v2"], "workloads": ["boot"], "seed": 3, "options": { "boot.pages": 8 } }
            """);

        var fromFile = Vmm(cli, "compare", file);
        var overridden = Vmm(cli, "compare", "--seed", "5", "--workload", "prealloc", file);

        Assert.True(fromFile.ExitCode == 0, fromFile.ToString());
        Assert.Contains("1 workloads × 2 stacks × 1 seed = 2 runs, seed 3, baseline tdx-ci+none", fromFile.Stdout, StringComparison.Ordinal);
        Assert.Contains("boot: ", fromFile.Stdout, StringComparison.Ordinal);
        Assert.Contains("seed 5, baseline tdx-ci+none", overridden.Stdout, StringComparison.Ordinal);
        Assert.Contains("prealloc: ", overridden.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{ \"stack\": [] }", "cmp.json: unknown property \"stack\"; a comparison file has: stacks, workloads, baseline, seed, repeat, kernel, options")]
    [InlineData("{ \"stacks\": \"tdx-ci+none\" }", "cmp.json: \"stacks\" is a list of names, e.g. [\"tdx-ci+none\"]")]
    [InlineData("{\n  \"seed\": 1,\n  \"repeat\": }", "cmp.json:3:13: not valid JSON")]
    public void ComparisonFile_Bad_NamesTheFileThePlaceAndTheFix(string content, string message)
    {
        using var cli = new CliHarness();
        var file = cli.Write("cmp.json", content);

        var result = Vmm(cli, "compare", file);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith("vmm: " + Path.Combine(cli.Directory, message), result.Stderr, StringComparison.Ordinal);
        Assert.Single(result.Stderr.TrimEnd().Split('\n'));
    }

    [Fact]
    public void Costs_PrintsEveryFigureWithItsSource_AndAFileChangesItAndTheComparison()
    {
        using var cli = new CliHarness();
        var file = cli.Write("costs.json", """{ "tlbShootdown": 100000 }""");

        var table = cli.Vmm("costs");
        var changed = cli.Vmm("costs", "--costs", file);
        var cheap = Vmm(cli, "compare", "--workload", "virtio-io", "--stack", "tdx-ci+hwpoison-v2", "--export", "csv", "--output", Path.Combine(cli.Directory, "a"));
        var dear = Vmm(cli, "compare", "--workload", "virtio-io", "--stack", "tdx-ci+hwpoison-v2", "--costs", file, "--export", "csv", "--output", Path.Combine(cli.Directory, "b"));

        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Matches(@"│ cost\.tlbShootdown\s+│\s+1500 │ IPI-based TLB shootdown", table.Stdout);
        Assert.Contains("[assumption]", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("100000 (default 1500)", changed.Stdout, StringComparison.Ordinal);
        Assert.True(cheap.ExitCode == 0 && dear.ExitCode == 0, cheap.ToString() + dear);
        double Modelled(string dir) => double.Parse(File.ReadAllLines(Path.Combine(cli.Directory, dir, "compare.csv"))[1].Split(',')[
            Array.IndexOf(File.ReadAllLines(Path.Combine(cli.Directory, dir, "compare.csv"))[0].Split(','), "model µs")], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Modelled("b") > Modelled("a") + 1000, $"{Modelled("a")} vs {Modelled("b")}");
    }

    [Theory]
    [InlineData("""{ "tlbShootdwn": 1 }""", "unknown cost \"tlbShootdwn\"; see vmm costs")]
    [InlineData("""{ "TlbShootdown": 1 }""", "unknown cost \"TlbShootdown\" (did you mean \"tlbShootdown\"?); see vmm costs")]
    [InlineData("""{ "tlbShootdown": -1 }""", "\"tlbShootdown\" is a number of nanoseconds, 0 or more")]
    public void Costs_BadFile_NamesTheEntryAndExit2(string content, string message)
    {
        using var cli = new CliHarness();
        var file = cli.Write("costs.json", content);

        var result = cli.Vmm("costs", "--costs", file);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal($"vmm: --costs: {file}: {message}\n", result.Stderr.ReplaceLineEndings("\n"));
    }
}
