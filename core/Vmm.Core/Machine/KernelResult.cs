using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// What a kernel entry point returns: its own result (ok, data, a count, an errno, or a policy's outcome such as a
/// KVM exit), or the kernel event the call faulted with (raised, not yet delivered). Which of these and of the
/// step's other events becomes the step's outcome is decided once, by <see cref="Engine.OutcomeResolver"/>.
/// </summary>
public readonly struct KernelResult
{
    private readonly Outcome? _value;

    private KernelResult(Outcome? value, in KernelEvent fault)
    {
        _value = value;
        Fault = fault;
    }

    /// <summary>The call's own result; null when it faulted.</summary>
    public Outcome? Value => _value;

    /// <summary>True when the call ended with <see cref="Fault"/> instead of a result of its own.</summary>
    public bool Faulted => _value is null;

    /// <summary>The event the call faulted with (meaningful only when <see cref="Faulted"/>).</summary>
    public KernelEvent Fault { get; }

    /// <summary>True for an own result of kind ok (with or without data).</summary>
    public bool IsOk => _value is { Kind: OutcomeKind.Ok };

    /// <summary>Data an ok read returned, or null.</summary>
    public byte[]? Data => _value?.Data;

    public static implicit operator KernelResult(Outcome value) => new(value ?? throw new ArgumentNullException(nameof(value)), default);

    /// <summary>The call faulted with <paramref name="kernelEvent"/>, which the kernel has raised.</summary>
    public static KernelResult FaultedWith(in KernelEvent kernelEvent) => new(null, kernelEvent);

    public override string ToString() => _value?.ToString() ?? $"faulted with {Fault.Kind} ({Fault.Reason})";
}
