using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Vmm.Hosting;

namespace Vmm.Cli;

/// <summary>The <c>vmm</c> command. Exit codes: 0 every expectation met, 1 some failed or timed out, 2 bad input, 3 internal error.</summary>
public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the command line in-process, writing to the given streams (what tests call).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Run(args, stdout, stderr, configureServices: null);

    /// <summary>As <see cref="Run(string[], TextWriter, TextWriter)"/>, with extra services added after the plugins (test doubles).</summary>
    internal static int Run(string[] args, TextWriter stdout, TextWriter stderr, Action<IServiceCollection>? configureServices)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        return Run(args, new CliContext(stdout, stderr, configureServices));
    }

    /// <summary>As <see cref="Run(string[], TextWriter, TextWriter)"/>, with the streams, consoles and services of <paramref name="context"/>.</summary>
    internal static int Run(string[] args, CliContext context)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(context);
        var stdout = context.Stdout;
        var stderr = context.Stderr;
        var root = new RootCommand(
            """
            vmm: simulate how a KVM host protects confidential-guest memory, scenario by scenario.

            Examples:
              vmm run scenarios/                                  run every *.json below scenarios/
              vmm run --json scenarios/hwpoison/v2-tdx-ci-gup.json  one scenario, JSON on stdout
              vmm run --set policy=hwpoison-v2 --kernel 6.11 scenarios/tdx/
              vmm plugins                                         components and their options

            Exit codes: 0 every expectation met, 1 some expectation failed or a scenario ran past --timeout,
            2 invalid input, 3 internal error.
            """)
        {
            RunCommand.Create(context),
            CompareCommand.Create(context),
            MergeCommand.Create(context),
            ExploreCommand.Create(context),
            HistoryCommand.Create(context),
            CostsCommand.Create(context),
            PluginsCommand.Create(context),
        };

        var parseResult = root.Parse(args);
        if (parseResult.Action is ParseErrorAction || (parseResult.Errors.Count > 0 && parseResult.Action is null))
        {
            var command = parseResult.CommandResult.Command;
            var name = command is RootCommand ? "vmm" : $"vmm {command.Name}";
            // A mistyped option is taken as an argument, and the parser's messages then blame the value after it: name the option instead.
            if (parseResult.Tokens.FirstOrDefault(t => t.Type == TokenType.Argument && t.Value.StartsWith("--", StringComparison.Ordinal)) is { } unknown)
            {
                var options = command.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal));
                stderr.WriteLine($"vmm: unknown option {unknown.Value}{NameHint.DidYouMean(unknown.Value, options)}; see '{name} --help' for usage");
                return ExitCodes.BadInput;
            }
            foreach (var error in parseResult.Errors)
                stderr.WriteLine($"vmm: {error.Message}");
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
    private IAnsiConsole? _out;
    private IAnsiConsole? _error;

    /// <summary>The Spectre console over <see cref="Stdout"/>; tests give one (an interactive ANSI TestConsole) whose writer is <see cref="Stdout"/>.</summary>
    public IAnsiConsole OutConsole
    {
        get => _out ??= Consoles.Create(Stdout);
        init => _out = value;
    }

    /// <summary>The Spectre console over <see cref="Stderr"/>, where progress is shown; tests may give one as for <see cref="OutConsole"/>.</summary>
    public IAnsiConsole ErrorConsole
    {
        get => _error ??= Consoles.Create(Stderr);
        init => _error = value;
    }

    /// <summary>How long past <c>--timeout</c> a scenario whose step does not return is waited for before vmm moves on without it.</summary>
    public TimeSpan TimeoutGrace { get; init; } = TimeSpan.FromSeconds(2);

    public void Error(string message) => Stderr.WriteLine($"vmm: {message}");

    /// <summary>A bug, not bad input: say so, with the stack trace for whoever fixes it.</summary>
    public int InternalError(Exception e)
    {
        Stderr.WriteLine($"vmm: internal error (a bug; please report it): {e}");
        return ExitCodes.InternalError;
    }
}
