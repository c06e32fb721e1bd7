namespace Vmm.Abstractions;

/// <summary>
/// Thrown by a component whose options or resources cannot work (an unsupported MAC algorithm, no KeyID
/// left): the host reports it as bad input, naming <see cref="Option"/> when given, with exit code 2.
/// </summary>
public sealed class ComponentOptionsException(string message, string? option = null) : Exception(message)
{
    /// <summary>The "section.option" key at fault, if one is.</summary>
    public string? Option { get; } = option;
}
