using System.Text.Json;
using Vmm.Cli.Tests.Infrastructure;
using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

/// <summary>vmm on an interactive ANSI terminal (Spectre TestConsoles): live progress, colours, and file-derived text that looks like markup.</summary>
public sealed class TerminalTests
{
    private const string PassingSteps = """
        [ { "op": "host.write", "vm": "vm1", "gpa": "0x1000", "data": "0x0102", "expect": "ok" },
          { "op": "host.fork" } ]
        """;

    private const string FailingSteps = """
        [ { "op": "host.read", "vm": "vm1", "gpa": "0x1000", "len": 4, "expect": { "sigbus": { "code": "BUS_MCEERR_AR", "lsb": 12 } } } ]
        """;

    [Fact]
    public void Run_OneFile_InATerminal_Exits0AndPrintsNoExceptionText()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("one.json", PassingSteps);

        var result = cli.VmmInTerminal("run", file);

        Assert.True(result.ExitCode == 0, result.ToString());
        AssertNoExceptionText(result);
        Assert.Contains("\u001b[", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("1/1 ", result.PlainStderr, StringComparison.Ordinal);
        Assert.EndsWith("1 scenarios, 1 passed, 0 failed", result.PlainStdout.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Directory_InATerminal_ShowsProgressOfEveryFileAndExits1OnAFailure()
    {
        using var cli = new CliHarness();
        for (var i = 1; i <= 11; i++) cli.Scenario($"suite/s{i:00}.json", PassingSteps);
        cli.Scenario("suite/s12-fail.json", FailingSteps);

        var result = cli.VmmInTerminal("run", Path.Combine(cli.Directory, "suite"));

        Assert.True(result.ExitCode == 1, result.ToString());
        AssertNoExceptionText(result);
        var progress = result.PlainStderr;
        Assert.Contains("1/12 ", progress, StringComparison.Ordinal);
        Assert.Contains("12/12 ", progress, StringComparison.Ordinal);
        Assert.Contains("12 scenarios, 11 passed, 1 failed", result.PlainStdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Json_InATerminal_WritesOnlyTheJsonDocumentOnStdout()
    {
        using var cli = new CliHarness();
        cli.Scenario("suite/a.json", PassingSteps);
        cli.Scenario("suite/b.json", PassingSteps);

        var result = cli.VmmInTerminal("run", "--json", Path.Combine(cli.Directory, "suite"));

        Assert.True(result.ExitCode == 0, result.ToString());
        AssertNoExceptionText(result);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(2, json.RootElement.GetProperty("scenarios").GetArrayLength());
    }

    [Fact]
    public void Plugins_InATerminal_Exits0AndListsTheComponents()
    {
        using var cli = new CliHarness();

        var result = cli.VmmInTerminal("plugins");

        Assert.True(result.ExitCode == 0, result.ToString());
        AssertNoExceptionText(result);
        Assert.Contains("test-memory", result.PlainStdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_FileAndScenarioNamesWithMarkupCharacters_AreShownAsWritten()
    {
        using var cli = new CliHarness();
        var folder = Path.Combine(cli.Directory, "[bold]suite[/]");
        var passing = cli.Write("[bold]suite[/]/[red]pass[1/2].json", Document("[1/2] [red]passes[/] :rocket:", PassingSteps));
        var failing = cli.Write("[bold]suite[/]/[/]fail[2/2].json", Document("[2/2] fails [[ ]] [/]", FailingSteps));

        var result = cli.VmmInTerminal("run", folder);

        Assert.True(result.ExitCode == 1, result.ToString());
        AssertNoExceptionText(result);
        var stdout = result.PlainStdout;
        Assert.Contains("[1/2] [red]passes[/] :rocket:", stdout, StringComparison.Ordinal);
        Assert.Contains("[2/2] fails [[ ]] [/]", stdout, StringComparison.Ordinal);
        Assert.Contains($"({passing};", stdout, StringComparison.Ordinal);
        Assert.Contains($"({failing};", stdout, StringComparison.Ordinal);
        Assert.Contains(Path.GetFileName(passing), result.PlainStderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_BadInputInAFileNamedLikeMarkup_InATerminal_Exits2WithTheNameAsWritten()
    {
        using var cli = new CliHarness();
        var file = cli.Write("[red]bad[1/2].json", "{ \"name\": ");

        var result = cli.VmmInTerminal("run", file);

        Assert.Equal(2, result.ExitCode);
        AssertNoExceptionText(result);
        Assert.StartsWith($"vmm: {file}:", result.PlainStderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Plugins_FromAFolderNamedLikeMarkup_InATerminal_ShowsThePathAsWritten()
    {
        using var scratch = new ScratchDirectory();
        var source = Path.GetDirectoryName(TestPaths.TestPlugin("Vmm.TestPlugins.Fakes"))!;
        var folder = Path.Combine(scratch.Path, "[red]plug[1/2]");
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.EnumerateFiles(source)) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        var plugins = scratch.PluginsJson(("[bold]Fakes[/]", Path.Combine(folder, "Vmm.TestPlugins.Fakes.dll")));
        using var cli = new CliHarness();

        var result = cli.VmmInTerminal("plugins", "--plugins", plugins);

        Assert.True(result.ExitCode == 0, result.ToString());
        AssertNoExceptionText(result);
        Assert.Contains("[red]plug[1/2]", result.PlainStdout, StringComparison.Ordinal);
    }

    private static string Document(string name, string steps) => $$"""
        {
          "name": {{JsonSerializer.Serialize(name)}}, {{CliHarness.Components}}
          "vms": [ { "name": "vm1", "memory": "8M", "backing": "anon" } ],
          "steps": {{steps}}
        }
        """;

    private static void AssertNoExceptionText(CliResult result)
    {
        var output = result.PlainStdout + result.PlainStderr;
        Assert.False(output.Contains("Exception", StringComparison.Ordinal), result.ToString());
        Assert.False(output.Contains("   at ", StringComparison.Ordinal), result.ToString());
    }
}
