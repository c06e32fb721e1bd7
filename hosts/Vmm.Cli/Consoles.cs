using Spectre.Console;

namespace Vmm.Cli;

/// <summary>Spectre consoles over the command's writers: colours and live displays only on a real terminal.</summary>
internal static class Consoles
{
    /// <summary>Width of a console that is not a terminal: wide enough that no line vmm writes is wrapped (one line per scenario for grep).</summary>
    public const int PipedWidth = 1 << 16;

    public static bool IsTerminal(TextWriter writer) =>
        (ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected)
        || (ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected);

    public static IAnsiConsole Create(TextWriter writer)
    {
        var terminal = IsTerminal(writer);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal) console.Profile.Width = PipedWidth;
        return console;
    }
}
