using Vmm.Cli.Tests.Infrastructure;
using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

/// <summary><c>vmm explore</c> with the repository's plugins: a finding written and replayed, nothing found, progress in a terminal, and bad input.</summary>
public sealed class ExploreCommandTests
{
    private static readonly string RepositoryPlugins = Path.Combine(TestPaths.RepoRoot, "plugins.json");

    private static CliResult Explore(CliHarness cli, bool terminal, params string[] args)
    {
        cli.Machines = null;
        string[] command = ["explore", "--plugins", RepositoryPlugins, .. args];
        return terminal ? cli.VmmInTerminal(command) : cli.Vmm(command);
    }

    [Fact]
    public void Explore_Leak_WritesAScenarioThatVmmRunPasses_Exit0()
    {
        using var cli = new CliHarness();
        var output = Path.Combine(cli.Directory, "found");

        var result = Explore(cli, false, "--stack", "plain+hwpoison-v1", "--goal", "plaintext-leak", "--actors", "vmm", "--budget", "2000", "--output", output);

        Assert.True(result.ExitCode == 0, result.ToString());
        var file = Path.Combine(output, "explore-plaintext-leak-plain+hwpoison-v1-seed1.json");
        Assert.StartsWith("plaintext-leak under plain+hwpoison-v1 after ", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("host.process-vm-readv page 0 8 bytes", result.Stdout, StringComparison.Ordinal);
        Assert.EndsWith($"wrote {file}; replay it with: vmm run {file}", result.Stdout.TrimEnd(), StringComparison.Ordinal);
        Assert.Equal("", result.Stderr);
        var replay = cli.Vmm("run", "--plugins", RepositoryPlugins, file);
        Assert.True(replay.ExitCode == 0, replay.ToString());
    }

    [Fact]
    public void Explore_NothingFound_Exit1WithHowFarItGot()
    {
        using var cli = new CliHarness();

        var result = Explore(cli, false, "--stack", "tdx-ci+guest-memfd", "--goal", "host-panic", "--actors", "vmm", "--budget", "64", "--output", cli.Directory);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith("no violation of host-panic under tdx-ci+guest-memfd in 64 sequences (budget 64 sequences, seed 1)", result.Stdout, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(cli.Directory, "explore-*"));
    }

    [Fact]
    public void Explore_InATerminal_ShowsProgressAndTheFinding()
    {
        using var cli = new CliHarness();

        var result = Explore(cli, true, "--stack", "plain+hwpoison-v1", "--goal", "plaintext-leak", "--actors", "vmm", "--budget", "2000", "--output", cli.Directory);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("sequences tried, corpus ", result.PlainStderr, StringComparison.Ordinal);
        Assert.Contains("│ # │ step", result.PlainStdout, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.PlainStdout + result.PlainStderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--goal", "host-panic" }, "vmm: explore: give the design to explore with --stack, e.g. --stack tdx-ci+hwpoison-v2")]
    [InlineData(new[] { "--stack", "tdx-ci+none", "--goal", "leak" }, "vmm: --goal: unknown goal \"leak\"")]
    [InlineData(new[] { "--stack", "tdx-ci+nonne" }, "vmm: stack \"tdx-ci+nonne\": no component is named \"nonne\"")]
    [InlineData(new[] { "--stack", "tdx-ci+none", "--budget", "1 minute" }, "vmm: --budget: expected a time (60s, 5m, 1h) or a number of sequences (2000), not \"1 minute\"")]
    [InlineData(new[] { "--stack", "tdx-ci+none", "--actors", "vmm,dev" }, "vmm: --actors: unknown actor \"dev\"")]
    [InlineData(new[] { "--stack", "tdx-ci+none", "--depth", "0" }, "vmm: --depth: expected 1 to 64 steps, not 0")]
    [InlineData(new[] { "--stack", "tdx-ci+none", "--exhaustive", "--depth", "9" }, "vmm: --depth: the exhaustive mode enumerates at most 8 steps")]
    [InlineData(new[] { "--stack", "tdx-ci+none", "--kernel", "five" }, "vmm: --kernel: expected a version like \"5.16\" or \"6.11\", not \"five\"")]
    public void Explore_BadInput_Exit2WithOneLine(string[] args, string message)
    {
        using var cli = new CliHarness();

        var result = Explore(cli, false, args);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith(message, result.Stderr, StringComparison.Ordinal);
        Assert.Single(result.Stderr.TrimEnd().Split('\n'));
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public void Explore_OutputIsAFile_Exit2()
    {
        using var cli = new CliHarness();
        var file = cli.Write("taken", "x");

        var result = Explore(cli, false, "--stack", "tdx-ci+none", "--output", file);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal($"vmm: --output: {file} is a file; name a directory (it is made if missing)", result.Stderr.TrimEnd());
    }
}
