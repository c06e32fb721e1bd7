using Vmm.Cli.Tests.Infrastructure;
using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

/// <summary><c>vmm compare</c> with the repository's plugins and the real machine: tables, exports, the dump, and bad input.</summary>
public sealed class CompareCommandTests
{
    private static readonly string RepositoryPlugins = Path.Combine(TestPaths.RepoRoot, "plugins.json");

    private static CliResult Compare(CliHarness cli, params string[] args)
    {
        cli.Machines = null;
        return cli.Vmm(["compare", "--plugins", RepositoryPlugins, .. args]);
    }

    private static readonly string[] Small = ["--workload", "malicious-vmm", "--stack", "tdx-ci+none", "--stack", "tdx-ci+hwpoison-v2", "--set", "malicious-vmm.pages=18"];

    [Fact]
    public void Compare_TwoStacks_PrintsTheTableWithBaselineRatioLegendConclusionsAndSummary()
    {
        using var cli = new CliHarness();

        var result = Compare(cli, Small);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("malicious-vmm: ", result.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"│ tdx-ci\+none\s+│ baseline │", result.Stdout);
        Assert.Contains("Ratio: modelled time against the baseline row (tdx-ci+none)", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("  holds        Without kernel protection, a VMM write to TD-private memory can crash the host", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("malicious-vmm: tdx-ci+hwpoison-v2 prevents all 1 host panics of tdx-ci+none; prevents all 1 guest kills of tdx-ci+none", result.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("1 workloads × 2 stacks × 1 seed = 2 runs, seed 1, baseline tdx-ci+none, " + result.Stdout.Split(", ")[^1], result.Stdout, StringComparison.Ordinal);
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public void Compare_ByKind_AddsWhereTheModelledTimeWentUnderEachTable_AndOnlyWhenAsked()
    {
        using var cli = new CliHarness();

        var with = Compare(cli, [.. Small, "--by-kind"]);
        var without = Compare(cli, Small);

        Assert.True(with.ExitCode == 0, with.ToString());
        Assert.Contains("malicious-vmm: where the modelled time went", with.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"│ Stack\s+│\s+│ \w+ .*│ model µs │", with.Stdout.Split("where the modelled time went")[1]);
        Assert.DoesNotContain("where the modelled time went", without.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Compare_ExportAndDump_WritesFilesThatVmmRunReplays()
    {
        using var cli = new CliHarness();
        var output = Path.Combine(cli.Directory, "out");
        var dump = Path.Combine(cli.Directory, "runs");

        var result = Compare(cli, [.. Small, "--export", "md,csv,json", "--output", output, "--dump", dump]);
        var replay = cli.Vmm("run", "--plugins", RepositoryPlugins, dump);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.All(["compare.md", "compare.csv", "compare.json"], name => Assert.True(File.Exists(Path.Combine(output, name)), name));
        Assert.Contains($"vmm: wrote 2 scenario files below {dump}; replay them with: vmm run {dump}", result.Stderr, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dump, "malicious-vmm", "tdx-ci+hwpoison-v2-seed1.json")));
        Assert.True(replay.ExitCode == 0, replay.ToString());
        Assert.EndsWith("2 scenarios, 2 passed, 0 failed" + Environment.NewLine, replay.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--stack", "tdx-cx+none" }, "vmm: stack \"tdx-cx+none\": no component is named \"tdx-cx\" (did you mean \"tdx-ci\"?); known: ")]
    [InlineData(new[] { "--workload", "malicous-vmm" }, "vmm: --workload: unknown workload \"malicous-vmm\" (did you mean \"malicious-vmm\"?); known: ")]
    [InlineData(new[] { "--set", "boot.pagez=3", "--workload", "boot" }, "vmm: unknown option \"pagez\" for \"boot\"")]
    [InlineData(new[] { "--set", "colour=red" }, "vmm: --set: \"colour\" is neither a component kind")]
    [InlineData(new[] { "--export", "xml" }, "vmm: --export: unknown exporter \"xml\"; known: md, csv, json")]
    [InlineData(new[] { "--jobs", "0" }, "vmm: --jobs: expected 1 or more, not 0")]
    [InlineData(new[] { "--stak" }, "vmm: unknown option --stak (did you mean \"--stack\"?); see vmm compare --help")]
    [InlineData(new[] { "--stak", "tdx-ci+none" }, "vmm: unknown option --stak (did you mean \"--stack\"?); see 'vmm compare --help' for usage")]
    [InlineData(new[] { "--workloads", "boot" }, "vmm: unknown option --workloads (did you mean \"--workload\"?); see 'vmm compare --help' for usage")]
    [InlineData(new[] { "--repeat", "0" }, "vmm: --repeat: expected 1 to 1000 runs per point, not 0")]
    public void Compare_BadInput_OneLineNamingTheFixAndExit2(string[] args, string message)
    {
        using var cli = new CliHarness();

        var result = Compare(cli, args);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith(message, result.Stderr, StringComparison.Ordinal);
        Assert.Single(result.Stderr.TrimEnd().Split('\n'));
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public void Compare_DumpIntoNonEmptyDirectory_RefusesWithoutForceAndKeepsTheFile()
    {
        using var cli = new CliHarness();
        var mine = cli.Write("runs/mine.json", "{}");

        var result = Compare(cli, [.. Small, "--dump", Path.GetDirectoryName(mine)!]);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith($"vmm: --dump: {Path.GetDirectoryName(mine)} is not empty; give --force", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("{}", File.ReadAllText(mine));
    }

    [Fact]
    public void Compare_InTerminal_ShowsNoStackTraceAndTheSameTable()
    {
        using var cli = new CliHarness();
        cli.Machines = null;

        var result = cli.VmmInTerminal(["compare", "--plugins", RepositoryPlugins, .. Small]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("baseline", result.PlainStdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.Stdout + result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Compare_Plot_WritesPngAndSvgChartsAndRefusesToOverwriteWithoutForce()
    {
        using var cli = new CliHarness();
        var output = Path.Combine(cli.Directory, "charts");

        var result = Compare(cli, [.. Small, "--plot", "--output", output]);
        var again = Compare(cli, [.. Small, "--plot", "--output", output]);

        Assert.True(result.ExitCode == 0, result.ToString());
        foreach (var chart in new[] { "safety", "cost" })
        {
            var png = File.ReadAllBytes(Path.Combine(output, $"compare-{chart}.png"));
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png.Take(4));
            Assert.Contains("<svg", File.ReadAllText(Path.Combine(output, $"compare-{chart}.svg")), StringComparison.Ordinal);
        }
        Assert.Contains("tdx-ci+hwpoison-v2", File.ReadAllText(Path.Combine(output, "compare-cost.svg")), StringComparison.Ordinal);
        Assert.Equal(2, again.ExitCode);
        Assert.StartsWith($"vmm: --plot: {Path.Combine(output, "compare-safety.png")} already exists; give --force", again.Stderr, StringComparison.Ordinal);
    }
}
