using Vmm.Cli.Tests.Infrastructure;
using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

/// <summary>
/// The built vmm.dll in a real pseudo-terminal (util-linux <c>script -qec CMD /dev/null</c>), with the repository's
/// plugins: what a user who types the command sees, live progress and colours included.
/// </summary>
public sealed class PseudoTerminalTests
{
    [ScriptTheory]
    [InlineData("run scenarios/kernel/k01-vmm-touch-of-hwpoison-entry.json", "1 scenarios, 1 passed, 0 failed")]
    [InlineData("run scenarios/kernel", "42 scenarios, 42 passed, 0 failed")]
    [InlineData("run --json scenarios/kernel", "\"scenarios\": [")]
    [InlineData("plugins", "hwpoison-v2")]
    public void Vmm_InAPseudoTerminal_Exits0WithoutExceptionText(string arguments, string expected)
    {
        var (exitCode, output) = RunInPseudoTerminal(arguments);

        var plain = CliResult.Plain(output);
        Assert.True(exitCode == 0, $"exit {exitCode}\n{plain}");
        Assert.Contains("\u001b[", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", plain, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", plain, StringComparison.Ordinal);
        Assert.Contains(expected, plain, StringComparison.Ordinal);
    }

    [ScriptFact]
    public void Run_ManyFilesInAPseudoTerminal_ShowsTheProgressOfEach()
    {
        var (exitCode, output) = RunInPseudoTerminal("run scenarios/kernel");

        Assert.Equal(0, exitCode);
        var plain = CliResult.Plain(output);
        Assert.Contains("1/42 scenarios/kernel/", plain, StringComparison.Ordinal);
        Assert.Contains("42/42 scenarios/kernel/", plain, StringComparison.Ordinal);
    }

    [ScriptFact]
    public void Run_TypoInThePathInAPseudoTerminal_Exits2WithOneLine()
    {
        var (exitCode, output) = RunInPseudoTerminal("run scenarios/kernle");

        Assert.Equal(2, exitCode);
        Assert.Equal("vmm: scenarios/kernle: no such file or directory", CliResult.Plain(output).Trim());
    }

    /// <summary>Runs <c>dotnet vmm.dll ARGUMENTS --plugins plugins.json</c> from the repository root under <c>script</c>; its exit code and everything the terminal showed.</summary>
    private static (int ExitCode, string Output) RunInPseudoTerminal(string arguments)
    {
        var plugins = Path.Combine(TestPaths.RepoRoot, "plugins.json");
        var command = $"dotnet {Quote(ProcessRunner.VmmDll)} {arguments} --plugins {Quote(plugins)}";
        var (exitCode, stdout, stderr) = ProcessRunner.Run("script", ["-qec", command, "/dev/null"], new Dictionary<string, string> { ["TERM"] = "xterm-256color" });
        return (exitCode, stdout + stderr);
    }

    private static string Quote(string path) => "'" + path.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}

/// <summary>util-linux <c>script</c>, which gives a command a pseudo-terminal; the tests that need it are skipped without it.</summary>
internal static class ScriptTool
{
    public static readonly string? SkipReason = Find() is null
        ? "util-linux 'script' is not on PATH, so vmm cannot be given a pseudo-terminal (install util-linux to run this test)"
        : null;

    private static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, "script"))
            .FirstOrDefault(File.Exists);
}

public sealed class ScriptFactAttribute : FactAttribute
{
    public ScriptFactAttribute() => Skip = ScriptTool.SkipReason;
}

public sealed class ScriptTheoryAttribute : TheoryAttribute
{
    public ScriptTheoryAttribute() => Skip = ScriptTool.SkipReason;
}
