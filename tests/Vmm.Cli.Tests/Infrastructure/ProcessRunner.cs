using System.Diagnostics;
using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests.Infrastructure;

/// <summary>Runs a program from the repository root, stdin closed, and collects what it wrote; killed after two minutes.</summary>
internal static class ProcessRunner
{
    /// <summary>The vmm.dll built beside the tests (the Vmm.Cli ProjectReference copies it with its runtimeconfig).</summary>
    public static string VmmDll => Path.Combine(AppContext.BaseDirectory, "vmm.dll");

    public static (int ExitCode, string Stdout, string Stderr) Run(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = TestPaths.RepoRoot,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment.Remove("NO_COLOR");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish in two minutes");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }
}
