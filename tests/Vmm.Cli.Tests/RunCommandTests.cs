using System.Text.Json;
using Vmm.Cli.Tests.Infrastructure;
using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

public class RunCommandTests
{
    private const string PassingSteps = """
        [
          { "op": "host.write", "vm": "vm1", "gpa": "0x1000", "data": "0x0102", "expect": "ok" },
          { "op": "host.read", "vm": "vm1", "gpa": "0x1000", "len": 4, "expect": { "ok": { "data": "0x00000000" } } },
          { "op": "host.fork" }
        ]
        """;

    private const string FailingSteps = """
        [ { "op": "host.read", "vm": "vm1", "gpa": "0x1000", "len": 4, "expect": { "sigbus": { "code": "BUS_MCEERR_AR", "lsb": 12 } } } ]
        """;

    [Fact]
    public void Run_AllExpectationsMet_Exits0AndPrintsTheSummary()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("pass.json", PassingSteps);

        var result = cli.Vmm("run", file);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("host.write", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("ok data=0x00000000", result.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("1 scenarios, 1 passed, 0 failed" + Environment.NewLine, result.Stdout, StringComparison.Ordinal);
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public void Run_WithAFailedExpectation_Exits1AndShowsExpectedAndActual()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("fail.json", FailingSteps);

        var result = cli.Vmm("run", file);

        Assert.True(result.ExitCode == 1, result.ToString());
        var row = result.Stdout.Split('\n').Single(line => line.Contains("host.read", StringComparison.Ordinal));
        Assert.Contains("sigbus BUS_MCEERR_AR lsb 12", row, StringComparison.Ordinal);
        Assert.Contains("ok data=0x00000000", row, StringComparison.Ordinal);
        Assert.Contains("✗", row, StringComparison.Ordinal);
        Assert.Contains("1 scenarios, 0 passed, 1 failed", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Directory_RunsEveryScenarioAndCountsThem()
    {
        using var cli = new CliHarness();
        cli.Scenario("suite/a-pass.json", PassingSteps);
        cli.Scenario("suite/b/fail.json", FailingSteps);

        var result = cli.Vmm("run", Path.Combine(cli.Directory, "suite"));

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.True(result.Stdout.IndexOf("a-pass", StringComparison.Ordinal) < result.Stdout.IndexOf("fail", StringComparison.Ordinal));
        Assert.Contains("2 scenarios, 1 passed, 1 failed", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Piped_WritesOneLinePerPassingScenarioHoweverLong()
    {
        using var cli = new CliHarness();
        var name = string.Concat(Enumerable.Repeat("a long scenario name ", 30));
        for (var i = 0; i < 4; i++)
            cli.Write($"suite/{i}.json", $$"""{ "name": "{{i}} {{name}}", {{CliHarness.Components}} "vms": [ { "name": "vm1", "memory": "8M" } ], "steps": {{PassingSteps}} }""");

        var result = cli.Vmm("run", Path.Combine(cli.Directory, "suite"));

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.TrimEnd().Split('\n');
        Assert.Equal(5, lines.Length);
        Assert.All(lines[..4], line => Assert.True(line.Length > 600, line));
        Assert.Equal("4 scenarios, 4 passed, 0 failed", lines[4].TrimEnd());
    }

    [Fact]
    public void Run_AfterAHostPanic_ShowsLaterStepsAsNotRun()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("panic.json", """
            [ { "op": "hw.memory-error", "vm": "vm1", "gpa": 0, "consumed": true, "expect": "host-panic" },
              { "op": "host.read", "vm": "vm1", "gpa": 0, "len": 1, "expect": "not-run" } ]
            """);

        var result = cli.Vmm("run", "--json", file);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var steps = json.RootElement.GetProperty("scenarios")[0].GetProperty("steps");
        Assert.Equal("host-panic", steps[0].GetProperty("actual").GetString());
        Assert.Equal("not-run", steps[1].GetProperty("actual").GetString());
    }

    [Fact]
    public void Run_Json_WritesTheContractShapeOnStdout()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("shape.json", """
            [ { "op": "host.read", "vm": "vm1", "gpa": 0, "len": 2, "expect": { "ok": { "data": "0x0000" } } },
              { "op": "host.gup", "vm": "vm1", "gpa": 0, "pages": 3 },
              { "op": "inspect", "vm": "vm1", "gpa": 0, "expect": { "state": { "owner": "vm2" } } } ]
            """);

        var result = cli.Vmm("run", "--json", file);

        Assert.True(result.ExitCode == 1, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var scenario = Assert.Single(json.RootElement.GetProperty("scenarios").EnumerateArray());
        Assert.Equal(file, scenario.GetProperty("file").GetString());
        Assert.Equal("shape", scenario.GetProperty("name").GetString());
        Assert.False(scenario.GetProperty("passed").GetBoolean());
        var steps = scenario.GetProperty("steps").EnumerateArray().ToList();
        Assert.All(steps, step => Assert.Equal(["index", "op", "expected", "actual", "passed"], step.EnumerateObject().Select(p => p.Name)));
        Assert.Equal([0, 1, 2], steps.Select(s => s.GetProperty("index").GetInt32()));
        Assert.Equal("""{"ok":{"data":"0x0000"}}""", Compact(steps[0].GetProperty("actual")));
        Assert.Equal("""{"ok":{"data":"0x0000"}}""", Compact(steps[0].GetProperty("expected")));
        Assert.Equal(JsonValueKind.Null, steps[1].GetProperty("expected").ValueKind);
        Assert.Equal("""{"ok":{"count":3}}""", Compact(steps[1].GetProperty("actual")));
        Assert.True(steps[1].GetProperty("passed").GetBoolean());
        Assert.Equal("""{"state":{"hwpoison":false,"owner":"vm1","lines":{"poisoned":0}}}""", Compact(steps[2].GetProperty("actual")));
        Assert.False(steps[2].GetProperty("passed").GetBoolean());
        Assert.Equal("5.16", scenario.GetProperty("kernel").GetString());
        Assert.Equal(3, scenario.GetProperty("costs").GetProperty("counts").GetProperty("PageFault").GetInt32());
        Assert.Equal("fake machine: nothing was simulated", scenario.GetProperty("warnings")[0].GetString());
    }

    [Fact]
    public void Run_KernelOverride_IsUsedForTheRun()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("kernel.json", "[]", "\"kernel\": \"5.16\",");

        var result = cli.Vmm("run", "--json", "--kernel", "6.11", file);

        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal("6.11", json.RootElement.GetProperty("scenarios")[0].GetProperty("kernel").GetString());
    }

    [Fact]
    public void Run_WithBadJson_Exits2AndShowsFileLineAndColumn()
    {
        using var cli = new CliHarness();
        var file = cli.Write("broken.json", "{\n  \"name\": \"broken\",\n  \"steps\": [ }\n}");

        var result = cli.Vmm("run", file);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"vmm: {file}:3:14: invalid JSON: ", result.Stderr, StringComparison.Ordinal);
        Assert.Single(result.Stderr.TrimEnd().Split('\n'));
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public void Run_WithUnknownOp_Exits2AndNamesTheOp()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("op.json", """[ { "op": "host.peek", "vm": "vm1" } ]""");

        var result = cli.Vmm("run", file);

        Assert.Equal(2, result.ExitCode);
        Assert.Matches($@"^vmm: {System.Text.RegularExpressions.Regex.Escape(file)}:\d+:\d+: unknown op ""host\.peek""; use one of: guest\.read, ", result.Stderr);
    }

    [Fact]
    public void Run_WithUnknownComponent_Exits2AndListsKnownNames()
    {
        using var cli = new CliHarness();
        var file = cli.Write("component.json", """{ "name": "c", "components": { "memory": "test-memory", "policy": "hwpoison-v3" }, "steps": [] }""");

        var result = cli.Vmm("run", file);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"vmm: {file}:1:67: unknown policy 'hwpoison-v3'; known: test-policy{Environment.NewLine}", result.Stderr);
    }

    [Fact]
    public void Run_WithUnknownOption_Exits2AndListsKnownOptions()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("option.json", "[]", """ "options": { "test-memory.line": 3 },""");

        var result = cli.Vmm("run", file);

        Assert.Equal(2, result.ExitCode);
        Assert.EndsWith($"unknown option \"line\" for \"test-memory\" (did you mean \"lines\"?); known: lines, strict{Environment.NewLine}", result.Stderr, StringComparison.Ordinal);
        Assert.StartsWith($"vmm: {file}:2:", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_WithUnknownSetComponent_Exits2AndSaysItCameFromSet()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("set.json", "[]");

        var result = cli.Vmm("run", "--set", "policy=nope", file);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"vmm: {file}: unknown policy 'nope' (from --set); known: test-policy{Environment.NewLine}", result.Stderr);
    }

    [Theory]
    [InlineData("--set", "policy", "vmm: --set: expected kind=name like policy=hwpoison-v2, not \"policy\"")]
    [InlineData("--set", "polcy=none", "vmm: --set: unknown component kind \"polcy\"; use one of: memory, policy, thp, faults, pagetable")]
    [InlineData("--kernel", "6", "vmm: --kernel: expected a version like \"5.16\" or \"6.11\", not \"6\"")]
    public void Run_WithBadOverride_Exits2WithOneLine(string option, string value, string message)
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("ok.json", "[]");

        var result = cli.Vmm("run", option, value, file);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(message + Environment.NewLine, result.Stderr);
    }

    [Fact]
    public void Run_WithMissingPluginFile_Exits2AndSaysHowToBuildIt()
    {
        using var scratch = new ScratchDirectory();
        var plugins = scratch.PluginsJson(("Baseline", "artifacts/plugins/Vmm.Plugins.Baseline/Vmm.Plugins.Baseline.dll"));
        var file = scratch.Write("s.json", """{ "name": "s", "steps": [] }""");

        var result = CliHarness.VmmWithPlugins(plugins, "run", file);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"vmm: {plugins}: plugins[0] \"Baseline\": file artifacts/plugins/Vmm.Plugins.Baseline/Vmm.Plugins.Baseline.dll not found", result.Stderr, StringComparison.Ordinal);
        Assert.EndsWith($"build it with: dotnet build hosts/Vmm.Cli{Environment.NewLine}", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_WithMissingScenarioFile_Exits2()
    {
        using var cli = new CliHarness();

        var result = cli.Vmm("run", "no-such-scenario.json");

        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"vmm: no-such-scenario.json: no such file or directory{Environment.NewLine}", result.Stderr);
    }

    [Fact]
    public void Run_WithSeveralInvalidFiles_ReportsEachAndRunsNone()
    {
        using var cli = new CliHarness();
        var good = cli.Scenario("suite/a.json", PassingSteps);
        var bad1 = cli.Write("suite/b.json", "{");
        var bad2 = cli.Write("suite/c.json", """{ "name": "c" }""");

        var result = cli.Vmm("run", "--json", Path.Combine(cli.Directory, "suite"));

        Assert.Equal(2, result.ExitCode);
        var lines = result.Stderr.TrimEnd().Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Equal("vmm: 2 of 3 files are invalid, so none was run; --keep-going runs the valid ones", lines[2].TrimEnd());
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Empty(json.RootElement.GetProperty("scenarios").EnumerateArray());
        Assert.Equal([bad1, bad2], json.RootElement.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("file").GetString()));
        Assert.DoesNotContain(good, result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_WhenTheMachineHasABug_Exits3AndSaysItIsABug()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("bug.json", """[ { "op": "vm.destroy", "vm": "vm1" } ]""");

        var result = cli.Vmm("run", file);

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("internal error (a bug; please report it): System.InvalidOperationException: fake machine bug", result.Stderr, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> BadInputs => new()
    {
        { "broken.json", "{ \"name\": " },
        { "op.json", """{ "name": "x", "steps": [ { "op": "nope" } ] }""" },
        { "component.json", """{ "name": "x", "components": { "memory": "nope" }, "steps": [] }""" },
        { "option.json", """{ "name": "x", "options": { "linux.earlyKill": "maybe" }, "steps": [] }""" },
        { "section.json", """{ "name": "x", "options": { "nope.x": 1 }, "steps": [] }""" },
        { "size.json", """{ "name": "x", "vms": [ { "name": "v", "memory": "lots" } ], "steps": [] }""" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Run_BadInput_Exits2WithOneLineAndNoStackTrace(string name, string content)
    {
        using var cli = new CliHarness();
        var file = cli.Write(name, content);

        var result = cli.Vmm("run", file);

        Assert.Equal(2, result.ExitCode);
        Assert.DoesNotContain("   at ", result.Stderr + result.Stdout, StringComparison.Ordinal);
        Assert.StartsWith($"vmm: {file}:", result.Stderr, StringComparison.Ordinal);
        Assert.Single(result.Stderr.TrimEnd().Split('\n'));
    }

    [Fact]
    public void Run_WithoutPaths_Exits2WithAHintToHelp()
    {
        using var cli = new CliHarness();

        var result = cli.Vmm("run");

        Assert.Equal(2, result.ExitCode);
        Assert.EndsWith($"vmm: see 'vmm run --help' for usage{Environment.NewLine}", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("frobnicate")]
    public void NoOrUnknownCommand_Exits2WithAHintToHelp(string command)
    {
        var result = CliHarness.VmmWithPlugins(null, command.Length == 0 ? [] : [command]);

        Assert.Equal(2, result.ExitCode);
        Assert.EndsWith($"vmm: see 'vmm --help' for usage{Environment.NewLine}", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void RunHelp_ShowsOptionsAndAnExample()
    {
        var result = CliHarness.VmmWithPlugins(null, "run", "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("vmm run --set policy=hwpoison-v2", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("--kernel <version>", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("--set <kind=name>", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("--plugins <file>", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_ForkExampleWithTheRepositoryPlugins_Exits0()
    {
        using var scratch = new ScratchDirectory();
        var file = scratch.Write("fork.json", """
            { "name": "fork copies a hwpoison entry", "components": { "memory": "plain", "policy": "none" },
              "vms": [ { "name": "vm1", "memory": "8M", "backing": "anon" } ],
              "steps": [
                { "op": "host.write", "vm": "vm1", "gpa": "0x2000", "data": { "pattern": 1, "len": 4096 }, "expect": "ok" },
                { "op": "host.madvise", "vm": "vm1", "gpa": "0x2000", "size": "4K", "advice": "HWPOISON", "expect": "ok" },
                { "op": "host.fork", "expect": "ok" },
                { "op": "host.read", "vm": "vm1", "gpa": "0x2000", "len": 4, "expect": { "sigbus": { "code": "BUS_MCEERR_AR", "lsb": 12 } } },
                { "op": "inspect", "vm": "vm1", "gpa": "0x2000", "expect": { "state": { "hwpoisonEntry": true, "hostMapped": false } } } ] }
            """);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = Program.Run(["run", "--plugins", Path.Combine(TestPaths.RepoRoot, "plugins.json"), file], stdout, stderr);

        Assert.True(code == 0, $"{stdout}\n{stderr}");
    }

    private static string Compact(JsonElement element) => JsonSerializer.Serialize(element);
}
