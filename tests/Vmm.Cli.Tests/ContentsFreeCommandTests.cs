using Vmm.Cli.Tests.Infrastructure;
using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

/// <summary><c>--contents-free</c> on vmm run and vmm compare, and a bad memory.contents value, as a user sees them.</summary>
public sealed class ContentsFreeCommandTests
{
    private static readonly string RepositoryPlugins = Path.Combine(TestPaths.RepoRoot, "plugins.json");

    private static string Scenario(CliHarness cli, string name, string lastExpect) => cli.Write(name, $$"""
        {
          "name": "{{name}}",
          "components": { "memory": "plain", "policy": "none" },
          "vms": [ { "name": "vm1", "memory": "8M", "backing": "anon" } ],
          "steps": [
            { "op": "host.write", "vm": "vm1", "gpa": "0x1000", "data": "0x0102", "expect": "ok" },
            { "op": "host.read", "vm": "vm1", "gpa": "0x1000", "len": 2, "expect": {{lastExpect}} }
          ]
        }
        """);

    [Fact]
    public void Run_ContentsFree_DoesNotCheckExpectedData_SaysSo_AndStillChecksTheRest()
    {
        using var cli = new CliHarness();
        cli.Machines = null;
        var wrongData = Scenario(cli, "data.json", """{ "ok": { "data": "0x0304" } }""");
        var wrongKind = Scenario(cli, "kind.json", """{ "sigbus": { "code": "BUS_MCEERR_AR" } }""");

        var normal = cli.Vmm("run", "--plugins", RepositoryPlugins, wrongData);
        var free = cli.Vmm("run", "--plugins", RepositoryPlugins, "--contents-free", wrongData);
        var kind = cli.Vmm("run", "--plugins", RepositoryPlugins, "--contents-free", wrongKind);

        Assert.True(normal.ExitCode == 1, normal.ToString());
        Assert.Matches(@"│ 1 │ host\.read +│ ok data=0x0304 +│ ok data=0x0102 +│ ✗ │", normal.Stdout);
        Assert.DoesNotContain("contents-free", normal.Stdout, StringComparison.Ordinal);
        Assert.True(free.ExitCode == 0, free.ToString());
        Assert.Matches(@"│ 1 │ host\.read +│ ok data=0x0304 \(data not checked: contents-free\) +│ ok data=0x0000 +│ ✓ │", free.Stdout);
        Assert.Contains("warning: contents-free run (memory.contents \"none\"): the expected data of 1 step (1) was not checked", free.Stdout, StringComparison.Ordinal);
        Assert.True(kind.ExitCode == 1, kind.ToString());
        Assert.Matches(@"│ 1 │ host\.read +│ sigbus BUS_MCEERR_AR +│ ok data=0x0000 +│ ✗ │", kind.Stdout);
    }

    [Fact]
    public void Compare_ContentsFree_ShowsDataMetricsAsNotAvailable_AndABadContentsValueIsOneLineExit2()
    {
        using var cli = new CliHarness();
        cli.Machines = null;
        string[] small = ["compare", "--plugins", RepositoryPlugins, "--workload", "malicious-vmm", "--stack", "plain+none", "--stack", "tdx-ci+none", "--set", "malicious-vmm.pages=18"];

        var normal = cli.Vmm(small);
        var free = cli.Vmm([.. small, "--contents-free"]);
        var bad = cli.Vmm([.. small, "--set", "memory.contents=nothing"]);

        Assert.True(free.ExitCode == 0, free.ToString());
        Assert.Matches(@"│ plain\+none +│ +│[^\n]* n/a │[^\n]* n/a │", free.Stdout);
        Assert.Contains("n/a: not available, the run was contents-free", free.Stdout, StringComparison.Ordinal);
        Assert.Contains(", contents-free, ", free.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("n/a", normal.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal("vmm: option \"memory.contents\": contents must be \"full\" or \"none\" (contents-free), not \"nothing\"" + Environment.NewLine, bad.Stderr);
    }
}
