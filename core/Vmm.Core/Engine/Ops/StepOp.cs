using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Engine.Ops;

/// <summary>How an op names the memory it acts on (scenario-format.md, "Addresses").</summary>
public enum OpAddressing
{
    /// <summary>Nothing: the VMM process as a whole.</summary>
    None,
    /// <summary><c>vm</c> alone.</summary>
    Vm,
    /// <summary><c>vm</c> + <c>gpa</c>.</summary>
    VmGpa,
    /// <summary><c>hva</c>, or <c>vm</c> + <c>gpa</c> (the VMM's mapping of it).</summary>
    HvaOrVmGpa,
    /// <summary><c>vm</c> + <c>gpa</c> (the frame behind it), or <c>pfn</c>.</summary>
    VmGpaOrPfn,
    /// <summary><c>vm</c> + <c>offset</c> in its backing file.</summary>
    VmFile,
}

/// <summary>The address properties of a step, as written; absent ones are null.</summary>
public readonly record struct StepAddress(string? Vm = null, ulong? Gpa = null, ulong? Hva = null, ulong? Pfn = null, ulong? Offset = null);

/// <summary>
/// One op: its name, addressing and properties, and the function that reads a step of it. Adding an op is one
/// record with a <see cref="OpDefinition"/> plus one line in <see cref="OpCatalog.Default"/>.
/// </summary>
/// <param name="Parse">Reads the op's own properties (not the address, not <c>expect</c>) in the order they are checked.</param>
public sealed record OpDefinition(string Name, OpAddressing Addressing, string[] Required, string[] Optional, Func<StepReader, StepOp> Parse)
{
    /// <summary>What a step of this op may have: <c>op</c>, its address properties, required then optional properties, <c>expect</c>.</summary>
    public IReadOnlyList<string> Properties { get; } = ["op", .. AddressProperties(Addressing), .. Required, .. Optional, "expect"];

    private static string[] AddressProperties(OpAddressing addressing) => addressing switch
    {
        OpAddressing.Vm => ["vm"],
        OpAddressing.VmGpa => ["vm", "gpa"],
        OpAddressing.HvaOrVmGpa => ["hva", "vm", "gpa"],
        OpAddressing.VmGpaOrPfn => ["vm", "gpa", "pfn"],
        OpAddressing.VmFile => ["vm", "offset"],
        _ => [],
    };
}

/// <summary>
/// A parsed op with its typed arguments. Each op family is one record that reads and checks only its own
/// properties (<see cref="OpDefinition.Parse"/>, the check hooks) and turns itself into kernel calls (<see cref="Execute"/>).
/// </summary>
public abstract record StepOp
{
    /// <summary>The op's name as written in a scenario (<c>host.read</c>).</summary>
    public abstract string Name { get; }

    /// <summary>Where the step acts: its <c>vm</c>, <c>gpa</c>, <c>hva</c>, <c>pfn</c> and <c>offset</c>.</summary>
    public StepAddress At { get; init; }

    /// <summary>Runs the op on the machine: its kernel call's result, which <see cref="OutcomeResolver"/> turns into the step's outcome with the step's kernel events.</summary>
    public abstract KernelResult Execute(OpContext context);

    /// <summary>How many bytes from the step's address it touches, and the property that says so (for range checks).</summary>
    protected internal virtual (ulong Bytes, string? Name) Extent => (0, null);

    /// <summary>Where the range the step touches starts, given its <c>gpa</c>.</summary>
    protected internal virtual ulong RangeStart(ulong gpa) => gpa;

    /// <summary>Checks of the op's own that come after its required properties and address, before its range is checked.</summary>
    protected internal virtual void CheckBeforeRange(StepReader step) { }

    /// <summary>Checks of the op's own that come after its range is checked.</summary>
    protected internal virtual void CheckAfterRange(StepReader step) { }
}
