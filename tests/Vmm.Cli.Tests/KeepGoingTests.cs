using System.Text.Json;
using Vmm.Abstractions;
using Vmm.Cli.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

/// <summary><c>vmm run --keep-going</c>: invalid files are reported, the valid ones run, and the summary counts both.</summary>
public sealed class KeepGoingTests
{
    private const string PassingSteps = """[ { "op": "host.write", "vm": "vm1", "gpa": "0x1000", "data": "0x01", "expect": "ok" } ]""";

    private const string FailingSteps = """
        [ { "op": "host.read", "vm": "vm1", "gpa": "0x1000", "len": 4, "expect": { "sigbus": { "code": "BUS_MCEERR_AR", "lsb": 12 } } } ]
        """;

    [Fact]
    public void Run_KeepGoing_ReportsInvalidFilesRunsTheValidOnesAndExits2()
    {
        using var cli = new CliHarness();
        cli.Scenario("suite/a-pass.json", PassingSteps);
        var broken = cli.Write("suite/b-broken.json", "{");
        cli.Scenario("suite/c-fail.json", FailingSteps);
        var badOp = cli.Scenario("suite/d-op.json", """[ { "op": "host.peek" } ]""");

        var result = cli.Vmm("run", "--keep-going", Path.Combine(cli.Directory, "suite"));

        Assert.True(result.ExitCode == 2, result.ToString());
        var errors = result.Stderr.TrimEnd().Split('\n');
        Assert.Equal(2, errors.Length);
        Assert.StartsWith($"vmm: {broken}:", errors[0], StringComparison.Ordinal);
        Assert.StartsWith($"vmm: {badOp}:", errors[1], StringComparison.Ordinal);
        Assert.Contains("a-pass (", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("c-fail (", result.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("4 scenarios, 1 passed, 1 failed, 2 invalid" + Environment.NewLine, result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_WithoutKeepGoing_OneInvalidFileStopsTheRun()
    {
        using var cli = new CliHarness();
        cli.Scenario("suite/a-pass.json", PassingSteps);
        cli.Write("suite/b-broken.json", "{");

        var result = cli.Vmm("run", Path.Combine(cli.Directory, "suite"));

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.EndsWith($"1 of 2 files are invalid, so none was run; --keep-going runs the valid ones{Environment.NewLine}", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, 0, "2 scenarios, 2 passed, 0 failed")]
    [InlineData(true, 1, "2 scenarios, 1 passed, 1 failed")]
    public void Run_KeepGoing_WithOnlyValidFiles_ExitsAsWithout(bool oneFails, int exitCode, string summary)
    {
        using var cli = new CliHarness();
        cli.Scenario("suite/a.json", PassingSteps);
        cli.Scenario("suite/b.json", oneFails ? FailingSteps : PassingSteps);

        var result = cli.Vmm("run", "--keep-going", Path.Combine(cli.Directory, "suite"));

        Assert.True(result.ExitCode == exitCode, result.ToString());
        Assert.EndsWith(summary + Environment.NewLine, result.Stdout, StringComparison.Ordinal);
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public void Run_KeepGoing_WithAMissingPath_RunsTheOtherPaths()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("a.json", PassingSteps);

        var result = cli.Vmm("run", "--keep-going", "no-such-dir", file);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal($"vmm: no-such-dir: no such file or directory{Environment.NewLine}", result.Stderr);
        Assert.EndsWith("2 scenarios, 1 passed, 0 failed, 1 invalid" + Environment.NewLine, result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_KeepGoing_AnInternalErrorInOneFile_DoesNotStopTheOthers()
    {
        using var cli = new CliHarness();
        var bug = cli.Scenario("suite/a-bug.json", """[ { "op": "vm.destroy", "vm": "vm1" } ]""");
        cli.Scenario("suite/b-pass.json", PassingSteps);

        var result = cli.Vmm("run", "--keep-going", Path.Combine(cli.Directory, "suite"));

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.StartsWith($"vmm: {bug}: internal error (a bug; please report it): System.InvalidOperationException: fake machine bug", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("b-pass (", result.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("2 scenarios, 1 passed, 0 failed, 1 internal error" + Environment.NewLine, result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true, 3, "b-pass (")]
    [InlineData(false, 3, null)]
    public void Run_AnInternalErrorWhileValidatingOneFile_IsThatFilesError(bool keepGoing, int exitCode, string? ran)
    {
        using var cli = new CliHarness
        {
            Services = services => services.AddVmmComponent<IPrivateMemoryPolicy, BrokenPolicy>(ComponentKind.Policy, "broken-policy", "Throws when created."),
        };
        var broken = cli.Write("suite/a-broken.json", """{ "name": "a", "components": { "memory": "test-memory", "policy": "broken-policy" }, "steps": [] }""");
        cli.Scenario("suite/b-pass.json", PassingSteps);

        var result = keepGoing
            ? cli.Vmm("run", "--keep-going", Path.Combine(cli.Directory, "suite"))
            : cli.Vmm("run", Path.Combine(cli.Directory, "suite"));

        Assert.True(result.ExitCode == exitCode, result.ToString());
        Assert.StartsWith($"vmm: {broken}: internal error (a bug; please report it): System.InvalidOperationException: policy bug", result.Stderr, StringComparison.Ordinal);
        if (ran is not null)
            Assert.Contains(ran, result.Stdout, StringComparison.Ordinal);
        else
            Assert.EndsWith($"vmm: 1 of 2 files could not be validated, so none was run; --keep-going runs the others{Environment.NewLine}", result.Stderr, StringComparison.Ordinal);
    }

    public sealed class BrokenPolicy : IPrivateMemoryPolicy
    {
        public BrokenPolicy() => throw new InvalidOperationException("policy bug");
    }

    [Fact]
    public void Run_KeepGoingJson_HasTheResultsAndTheErrors()
    {
        using var cli = new CliHarness();
        var good = cli.Scenario("suite/a.json", PassingSteps);
        var bad = cli.Write("suite/b.json", """{ "name": "b" }""");

        var result = cli.Vmm("run", "--keep-going", "--json", Path.Combine(cli.Directory, "suite"));

        Assert.True(result.ExitCode == 2, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal([good], json.RootElement.GetProperty("scenarios").EnumerateArray().Select(s => s.GetProperty("file").GetString()));
        Assert.Equal([bad], json.RootElement.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("file").GetString()));
    }

    [Fact]
    public void RunHelp_DocumentsKeepGoingAndTimeout()
    {
        var result = CliHarness.VmmWithPlugins(null, "run", "--help");

        Assert.Contains("--keep-going", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("vmm run --keep-going --timeout 10 scenarios/", result.Stdout, StringComparison.Ordinal);
    }
}
