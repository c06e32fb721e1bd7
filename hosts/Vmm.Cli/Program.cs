using System.CommandLine;
using System.CommandLine.Invocation;
using Microsoft.Extensions.DependencyInjection;

namespace Vmm.Cli;

/// <summary>The <c>vmm</c> command. Exit codes: 0 every expectation met, 1 some failed, 2 bad input, 3 internal error.</summary>
public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the command line in-process, writing to the given streams (what tests call).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Run(args, stdout, stderr, configureServices: null);

    /// <summary>As <see cref="Run(string[], TextWriter, TextWriter)"/>, with extra services added after the plugins (test doubles).</summary>
    internal static int Run(string[] args, TextWriter stdout, TextWriter stderr, Action<IServiceCollection>? configureServices)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var context = new CliContext(stdout, stderr, configureServices);
        var root = new RootCommand(
            """
            vmm: simulate how a KVM host protects confidential-guest memory, scenario by scenario.

            Examples:
              vmm run scenarios/                                  run every *.json below scenarios/
              vmm run --json scenarios/hwpoison/v2-tdx-ci-gup.json  one scenario, JSON on stdout
              vmm run --set policy=hwpoison-v2 --kernel 6.11 scenarios/tdx/
              vmm plugins                                         components and their options

            Exit codes: 0 every expectation met, 1 some expectation failed, 2 invalid input, 3 internal error.
            """)
        {
            RunCommand.Create(context),
            PluginsCommand.Create(context),
        };

        var parseResult = root.Parse(args);
        if (parseResult.Action is ParseErrorAction || (parseResult.Errors.Count > 0 && parseResult.Action is null))
        {
            foreach (var error in parseResult.Errors)
                stderr.WriteLine($"vmm: {error.Message}");
            var command = parseResult.CommandResult.Command;
            var name = command is RootCommand ? "vmm" : $"vmm {command.Name}";
            stderr.WriteLine($"vmm: see '{name} --help' for usage");
            return ExitCodes.BadInput;
        }
        return parseResult.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
    }
}

internal static class ExitCodes
{
    public const int Passed = 0;
    public const int Failed = 1;
    public const int BadInput = 2;
    public const int InternalError = 3;
}

/// <summary>Where a command writes and what it adds to the host.</summary>
internal sealed record CliContext(TextWriter Stdout, TextWriter Stderr, Action<IServiceCollection>? ConfigureServices)
{
    public void Error(string message) => Stderr.WriteLine($"vmm: {message}");

    /// <summary>A bug, not bad input: say so, with the stack trace for whoever fixes it.</summary>
    public int InternalError(Exception e)
    {
        Stderr.WriteLine($"vmm: internal error (a bug; please report it): {e}");
        return ExitCodes.InternalError;
    }
}
